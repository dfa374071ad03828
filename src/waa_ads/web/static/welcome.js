// @ts-check
// The welcome page, shown for an access code before anything starts (POST .../lookup):
// who takes which test for whom, its instructions, the candidate's time, the number of
// questions, moving between them, breaks, attempts used of allowed, and every past attempt
// with how it ended and its released result. "Start the test" (or "Resume the test") is the
// only thing that starts an attempt (POST /api/v1/attempts: the clock starts then). When
// nothing can start, it says why and shows no button. While a result is not released yet,
// it asks again every 30 seconds and on "Check for my result".

import { lookupCode, startAttempt } from "./api.js";
import { OFFLINE, problemMessage } from "./messages.js";
import { addTerm, endingWords, feedbackSection, resultLine, when } from "./results.js";
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

/** @param {number} seconds */
export function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${h} hour${h === 1 ? "" : "s"}${m ? ` ${m} minute${m === 1 ? "" : "s"}` : ""}`;
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
    add("Time", `No time limit: the test is open until ${when(lookup.administration.closes_at)}.`);
  } else if (a.time_limit_s !== null && yours > a.time_limit_s) {
    add("Time", `${duration(yours)}, with your extra time (the test's time is ${duration(a.time_limit_s)}).`);
  } else {
    add("Time", `${duration(yours)}.`);
  }
  add("Questions", `${a.question_count} question${a.question_count === 1 ? "" : "s"}.`);
  const moving = a.navigation === "linear"
    ? ["One question at a time, in order: you cannot go back to a question once you move on."]
    : ["You can move between the questions in any order."];
  if (a.navigation !== "linear" && a.allow_review) moving.push("You can review all your answers before you submit.");
  if (a.allow_flags) moving.push("You can flag a question to come back to it.");
  add("Moving between questions", moving.join(" "));
  const b = a.breaks;
  add("Breaks", b.allowed && b.max_breaks > 0
    ? `You may take up to ${b.max_breaks} break${b.max_breaks === 1 ? "" : "s"} of up to ${duration(b.max_break_s)} each. `
      + (b.count_against_time ? "The clock keeps running during a break." : "The clock stops during a break.")
    : "This test has no breaks.");
  add("Attempts", `You have used ${lookup.attempts_used} of ${lookup.attempts_allowed} attempt${lookup.attempts_allowed === 1 ? "" : "s"}.`);
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
    th.textContent = `Attempt ${attempt.number}`;
    const started = document.createElement("td");
    started.textContent = when(attempt.started_at);
    const ended = document.createElement("td");
    ended.textContent = endingWords(attempt);
    const result = document.createElement("td");
    const live = attempt.state === "in_progress" || attempt.state === "paused";
    result.textContent = attempt.result_released && attempt.result
      ? resultLine(attempt.result)
      : live ? "" : "Not released yet";
    if (!live && !attempt.result_released) result.className = "pending";
    if (attempt.result_released && attempt.result) {
      result.append(scorecardDownload(shownCode, attempt.id, `Scorecard of attempt ${attempt.number} (PDF)`));
    }
    started.dataset.label = "Started";
    ended.dataset.label = "How it ended";
    result.dataset.label = "Result";
    tr.append(th, started, ended, result);
    rows.append(tr);
  }
  const feedback = lookup.attempts.flatMap((attempt) => {
    const section = attempt.result_released && attempt.result
      ? feedbackSection(attempt.result, 3, `Feedback on attempt ${attempt.number}`)
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
  $("welcome-candidate").textContent = lookup.candidate_name ? `Welcome, ${lookup.candidate_name}.` : "Welcome.";
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
    blocked.textContent = opens ? `${why} It opens on ${opens}.` : why;
  } else {
    start.hidden = false;
    note.hidden = false;
    blocked.hidden = true;
    blocked.textContent = "";
    const resume = lookup.next_step === "resume";
    start.textContent = resume ? "Resume the test" : "Start the test";
    const live = lookup.attempts.find((x) => x.id === lookup.live_attempt_id);
    note.textContent = resume
      ? live?.state === "paused"
        ? "Your test is paused: you continue where you were."
        : "Your test is in progress and its clock is running: you continue where you were."
      : lookup.attempts_used > 0
        ? `This starts attempt ${lookup.attempts_used + 1} of ${lookup.attempts_allowed}. The clock starts when you press Start the test.`
        : "The clock starts when you press Start the test.";
  }
  showScreen("screen-welcome", "Welcome");
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
    status.textContent = "Your results cannot be checked while you are offline.";
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
