// @ts-check
// How an attempt ended and its released result, in the candidate's words: shared by the
// finished screen and the welcome page's list of attempts. Builds elements only.

import { formatNumber, formatTime, nt, t } from "./i18n.js";

/** @typedef {import("./types.js").LookupAttempt} LookupAttempt */
/** @typedef {import("./types.js").Result} Result */

/** @param {number} x */
const round = (x) => formatNumber(Math.round(x * 100) / 100);

/**
 * A length of time in words ("10 minutes", "1 hour 30 minutes"), to the minute.
 * @param {number} seconds
 */
export function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  /** @type {(n: number) => string} */
  const inMinutes = (n) => nt("{count} minute", "{count} minutes", n, { count: formatNumber(n) });
  if (minutes < 60) return inMinutes(minutes);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const hours = nt("{count} hour", "{count} hours", h, { count: formatNumber(h) });
  return m ? t("{hours} {minutes}", { hours, minutes: inMinutes(m) }) : hours;
}

/**
 * Append a term and its description to a description list.
 * @param {HTMLElement} list
 * @param {string} term
 * @param {string} value
 */
export function addTerm(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

/**
 * The score in words: an adaptive test's scaled ability estimate with its standard error,
 * otherwise the points out of the maximum.
 * @param {Result} result
 */
function scoreWords(result) {
  const adaptive = Object.values(result.sections ?? {}).filter(
    (s) => typeof s.scaled === "number" && typeof s.scaled_se === "number",
  );
  if (adaptive.length === 1) {
    const only = adaptive[0];
    return t("{score} (standard error {error})", { score: round(only.scaled ?? 0), error: round(only.scaled_se ?? 0) });
  }
  return t("{score} out of {maximum}", { score: round(result.raw), maximum: round(result.max_raw) });
}

/**
 * The result as a list of terms (score, band, outcome).
 * @param {Result} result
 * @returns {HTMLDListElement}
 */
export function resultList(result) {
  const list = document.createElement("dl");
  /** @type {(term: string, value: string) => void} */
  const add = (term, value) => addTerm(list, term, value);
  add(t("Score"), scoreWords(result));
  if (result.band) add(t("Band"), result.band);
  if (result.passed !== null && result.passed !== undefined) add(t("Outcome"), result.passed ? t("Passed") : t("Not passed"));
  return list;
}

/**
 * The feedback of the people who scored answers: per question, the rubric level reached
 * on each criterion and their comments. Null when there is none.
 * @param {Result} result
 * @param {number} level  the heading level of the section's heading (its questions: one below)
 * @param {string} title
 * @returns {HTMLElement | null}
 */
export function feedbackSection(result, level, title) {
  const given = result.feedback ?? [];
  if (given.length === 0) return null;
  const section = document.createElement("section");
  section.className = "feedback";
  const heading = document.createElement(`h${level}`);
  heading.textContent = title;
  section.append(heading);
  for (const item of given) {
    const question = document.createElement(`h${level + 1}`);
    question.textContent = item.position > 0 ? t("Question {number}", { number: formatNumber(item.position) }) : item.item_ref;
    section.append(question);
    if (item.criteria.length > 0) {
      const list = document.createElement("dl");
      for (const c of item.criteria) addTerm(list, c.criterion, t("{level}: {descriptor}", { level: c.level, descriptor: c.descriptor }));
      section.append(list);
    }
    for (const comment of item.comments) {
      const p = document.createElement("p");
      p.className = "comment";
      p.textContent = comment;
      section.append(p);
    }
  }
  return section;
}

/**
 * The result in one line (for a table cell).
 * @param {Result} result
 */
export function resultLine(result) {
  const words = [t("Score {score}", { score: scoreWords(result) })];
  if (result.band) words.push(t("band: {band}", { band: result.band }));
  if (result.passed === true) words.push(t("passed"));
  if (result.passed === false) words.push(t("not passed"));
  return words.join(", ");
}

/**
 * How an attempt ended, in a few words.
 * @param {LookupAttempt} attempt
 */
export function endingWords(attempt) {
  if (attempt.state === "invalidated") return t("Invalidated");
  if (attempt.state === "in_progress") return t("In progress");
  if (attempt.state === "paused") return t("Paused");
  switch (attempt.ended_because) {
    case "submitted": return t("Submitted");
    case "expired": return t("Time ran out");
    case "terminated": return t("Ended by the supervisor");
    default: return t("Finished");
  }
}

/**
 * A date and time in the page's language (in the browser's time zone).
 * @param {string | null} iso
 */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return formatTime(date, true);
}
