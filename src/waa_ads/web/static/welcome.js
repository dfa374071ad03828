// @ts-check
// The welcome page, shown for an access code before anything starts (POST .../lookup):
// who takes which test for whom, its instructions, the candidate's time, the number of
// questions, moving between them, breaks, attempts used of allowed, and every past attempt
// with how it ended and its released result. "Start the test" (or "Resume the test") is the
// only thing that starts an attempt (POST /api/v1/attempts: the clock starts then). When
// nothing can start, it says why and shows no button. While a result is not released yet,
// it asks again every 30 seconds and on "Check for my result".

import { lookupCode, startAttempt } from "./api.js";
import { formatNumber, nt, t } from "./i18n.js";
import { OFFLINE, problemMessage } from "./messages.js";
import { addTerm, duration, endingWords, feedbackSection, resultLine, when } from "./results.js";
import { scorecardDownload } from "./scorecard.js";
import { $, keepSession, session, state } from "./store.js";
import { later, stopTimers } from "./timer.js";
import { focusHeading, renderHeader, showScreen } from "./ui.js";

/** @typedef {import("./types.js").Lookup} Lookup */

const POLL_MS = 30_000;

/** @type {{open: () => Promise<void>, back: (message?: string) => void}} */
const hooks = { open: async () => {}, back: () => {} };

/** The access code the page is showing (kept only while it is shown, and in the session). */
let shownCode = "";
/** @type {Lookup | null} */
let shown = null;

/** When the clock starts, naming the button. */
function clockStarts() {
  const button = t("Start the test");
  return t("The clock starts when you press {button}.", { button });
}

/** @param {Lookup} lookup  which attempt starting makes */
function nextAttempt(lookup) {
  return t("This starts attempt {number} of {count}.", { number: formatNumber(lookup.attempts_used + 1), count: formatNumber(lookup.attempts_allowed) });
}

/**
 * The header's names from a lookup (the attempt's reply does not carry them).
 * @param {Lookup} lookup
 */
function names(lookup) {
  return {
    organization: lookup.organization_name,
    candidate: lookup.candidate_name,
    logo: lookup.organization_logo_url ?? null,
    style: lookup.organization_style_url ?? null,
    title: lookup.assessment.title,
  };
}

/**
 * The facts about the test, as a definition list.
 * @param {Lookup} lookup
 */
function facts(lookup) {
  const a = lookup.assessment;
  const list = $("welcome-facts");
  list.replaceChildren();
  /** @type {(term: string, value: string) => void} */
  const add = (term, value) => addTerm(list, term, value);
  const yours = a.candidate_time_limit_s;
  if (yours === null) {
    add(t("Time"), t("No time limit: the test is open until {date}.", { date: when(lookup.administration.closes_at) }));
  } else if (a.time_limit_s !== null && yours > a.time_limit_s) {
    add(t("Time"), t("{duration}, with your extra time (the test's time is {standard}).", { duration: duration(yours), standard: duration(a.time_limit_s) }));
  } else {
    add(t("Time"), t("{duration}.", { duration: duration(yours) }));
  }
  add(t("Questions"), nt("{count} question.", "{count} questions.", a.question_count, { count: formatNumber(a.question_count) }));
  const moving = a.navigation === "linear"
    ? [t("One question at a time, in order: you cannot go back to a question once you move on.")]
    : [t("You can move between the questions in any order.")];
  if (a.navigation !== "linear" && a.allow_review) moving.push(t("You can review all your answers before you submit."));
  if (a.allow_flags) moving.push(t("You can flag a question to come back to it."));
  add(t("Moving between questions"), moving.join(" "));
  const b = a.breaks;
  const allowed = nt("You may take up to {count} break of up to {duration} each.", "You may take up to {count} breaks of up to {duration} each.",
    b.max_breaks, { count: formatNumber(b.max_breaks), duration: duration(b.max_break_s) });
  const clock = b.count_against_time ? t("The clock keeps running during a break.") : t("The clock stops during a break.");
  add(t("Breaks"), b.allowed && b.max_breaks > 0 ? `${allowed} ${clock}` : t("This test has no breaks."));
  add(t("Attempts"), nt("You have used {used} of {count} attempt.", "You have used {used} of {count} attempts.",
    lookup.attempts_allowed, { used: formatNumber(lookup.attempts_used), count: formatNumber(lookup.attempts_allowed) }));
}

/**
 * The candidate's attempts, oldest first, each with how it ended and its result.
 * @param {Lookup} lookup
 */
function attempts(lookup) {
  const rows = $("welcome-attempt-rows");
  rows.replaceChildren();
  for (const attempt of lookup.attempts) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = t("Attempt {number}", { number: formatNumber(attempt.number) });
    const started = document.createElement("td");
    started.textContent = when(attempt.started_at);
    const ended = document.createElement("td");
    ended.textContent = endingWords(attempt);
    const result = document.createElement("td");
    const live = attempt.state === "in_progress" || attempt.state === "paused";
    result.textContent = attempt.result_released && attempt.result
      ? resultLine(attempt.result)
      : live ? "" : t("Not released yet");
    if (!live && !attempt.result_released) result.className = "pending";
    if (attempt.result_released && attempt.result) {
      result.append(scorecardDownload(shownCode, attempt.id, t("Scorecard of attempt {number} (PDF)", { number: formatNumber(attempt.number) })));
    }
    started.dataset.label = t("Started");
    ended.dataset.label = t("How it ended");
    result.dataset.label = t("Result");
    tr.append(th, started, ended, result);
    rows.append(tr);
  }
  const feedback = lookup.attempts.flatMap((attempt) => {
    const section = attempt.result_released && attempt.result
      ? feedbackSection(attempt.result, 3, t("Feedback on attempt {number}", { number: formatNumber(attempt.number) }))
      : null;
    return section ? [section] : [];
  });
  $("welcome-feedback").replaceChildren(...feedback);
  $("welcome-attempts").hidden = lookup.attempts.length === 0;
  const waiting = lookup.attempts.some((x) => !x.result_released && x.state !== "in_progress" && x.state !== "paused");
  $("welcome-refresh").hidden = !waiting;
  return waiting;
}

/**
 * Show the welcome page for an access code from its lookup.
 * @param {string} code
 * @param {Lookup} lookup
 * @param {{focus?: boolean}} [options]
 */
export function showWelcome(code, lookup, { focus = true } = {}) {
  stopTimers();
  shownCode = code;
  shown = lookup;
  state.ended = false;
  renderHeader(names(lookup));
  $("welcome-org").textContent = lookup.organization_name;
  $("welcome-heading").textContent = lookup.assessment.title;
  $("welcome-candidate").textContent = lookup.candidate_name ? t("Welcome, {name}.", { name: lookup.candidate_name }) : t("Welcome.");
  const instructions = $("welcome-instructions");
  instructions.replaceChildren();
  for (const paragraph of (lookup.assessment.instructions ?? "").split(/\n\s*\n/)) {
    if (!paragraph.trim()) continue;
    const p = document.createElement("p");
    p.textContent = paragraph.trim(); // plain text, never HTML
    instructions.append(p);
  }
  instructions.hidden = instructions.childElementCount === 0;
  facts(lookup);
  const waiting = attempts(lookup);
  const start = $("welcome-start", HTMLButtonElement);
  const note = $("welcome-start-note");
  const blocked = $("welcome-blocked");
  $("welcome-error").textContent = "";
  if (lookup.next_step === "none") {
    start.hidden = true;
    note.hidden = true;
    blocked.hidden = false;
    const why = problemMessage(
      { status: 409, code: lookup.blocked_by ?? "", detail: null, requestId: null, body: {} }, "start",
    );
    const opens = lookup.blocked_by === "administration-not-open" ? when(lookup.administration.opens_at) : "";
    const opening = t("It opens on {date}.", { date: opens });
    blocked.textContent = opens ? `${why} ${opening}` : why;
  } else {
    start.hidden = false;
    note.hidden = false;
    blocked.hidden = true;
    blocked.textContent = "";
    const resume = lookup.next_step === "resume";
    start.textContent = resume ? t("Resume the test") : t("Start the test");
    const live = lookup.attempts.find((x) => x.id === lookup.live_attempt_id);
    note.textContent = resume
      ? live?.state === "paused"
        ? t("Your test is paused: you continue where you were.")
        : t("Your test is in progress and its clock is running: you continue where you were.")
      : lookup.attempts_used > 0
        ? `${nextAttempt(lookup)} ${clockStarts()}`
        : clockStarts();
  }
  showScreen("screen-welcome", t("Welcome"));
  if (focus) focusHeading("welcome-heading");
  if (waiting) later(() => refresh(false), POLL_MS);
}

/**
 * Look the code up again (results released since, an attempt ended).
 * @param {boolean} focus
 */
async function refresh(focus) {
  if (!shownCode || $("screen-welcome").hidden) return;
  const status = $("welcome-status");
  try {
    const reply = await lookupCode(shownCode);
    if (!reply.ok) {
      status.textContent = problemMessage(reply.problem, "start");
      return;
    }
    status.textContent = "";
    showWelcome(shownCode, reply.body, { focus });
  } catch {
    status.textContent = t("Your results cannot be checked while you are offline.");
    later(() => refresh(false), POLL_MS);
  }
}

/** Start (or resume) the attempt: the only place the clock is started. */
async function start() {
  const button = $("welcome-start", HTMLButtonElement);
  const error = $("welcome-error");
  if (!shown) return;
  button.disabled = true;
  try {
    const reply = await startAttempt(shownCode);
    if (!reply.ok) {
      error.textContent = problemMessage(reply.problem, "start");
      return;
    }
    const previous = state.view?.attempt.id;
    keepSession({
      attemptId: reply.body.attempt.id,
      credential: reply.body.credential,
      accessCode: shownCode,
      candidateName: shown.candidate_name,
      organizationName: shown.organization_name,
      organizationLogoUrl: shown.organization_logo_url ?? null,
      organizationStyleUrl: shown.organization_style_url ?? null,
    });
    if (previous !== reply.body.attempt.id) {
      // Another attempt than this tab had: nothing of the previous one carries over.
      state.local.clear();
      state.spent.clear();
      state.warned.clear();
      state.index = 0;
    }
    stopTimers();
    await hooks.open();
  } catch {
    error.textContent = OFFLINE;
  } finally {
    button.disabled = false;
  }
}

/** From the finished screen: the welcome page of this tab's access code (every attempt). */
async function fromDone() {
  const code = state.session ? session().accessCode : undefined;
  if (!code) { hooks.back(); return; }
  const error = $("done-error");
  try {
    const reply = await lookupCode(code);
    if (!reply.ok) { error.textContent = problemMessage(reply.problem, "start"); return; }
    error.textContent = "";
    showWelcome(code, reply.body);
  } catch {
    error.textContent = OFFLINE;
  }
}

/**
 * Wire the welcome page's buttons (once, at start).
 * @param {{open: () => Promise<void>, back: (message?: string) => void}} given  open the
 *   attempt once started; go back to the access screen
 */
export function wireWelcome(given) {
  Object.assign(hooks, given);
  $("welcome-start").addEventListener("click", start);
  $("welcome-back").addEventListener("click", () => { shownCode = ""; shown = null; hooks.back(); });
  $("welcome-refresh").addEventListener("click", () => refresh(false));
  $("done-attempts").addEventListener("click", fromDone);
}
