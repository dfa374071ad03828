// @ts-check
// Breaks and pauses. Where the assessment allows breaks, "Take a break" asks first (how
// many are left, whether the clock runs), saves what is queued, then `POST .../break`; the
// pause screen hides the questions until "Resume the test" (`POST .../break/end`) brings
// them back. A proctor's pause shows the same screen without the button: the test goes on
// when the proctor resumes it (attempt.js keeps asking).
//
// The button shows only where the attempt's `breaks` says `allowed` and some `remaining`.
// A break already running (`attempt.pause_kind`) is shown either way; one that lasted
// `max_break_s` ends by itself on the server, which the next read shows.

import { endBreak, takeBreak } from "./api.js";
import { nt, t } from "./i18n.js";
import { commitText } from "./item.js";
import { OFFLINE, problemMessage } from "./messages.js";
import { $, leaveItem, session, state, view } from "./store.js";
import { duration } from "./results.js";
import { renderTimer } from "./timer.js";
import { focusHeading, showScreen } from "./ui.js";

/** @typedef {import("./types.js").Attempt} Attempt */

/** @type {{reopen: () => Promise<void>, refresh: () => Promise<void>}} */
const hooks = { reopen: async () => {}, refresh: async () => {} };

const dialog = () => $("break-dialog", HTMLDialogElement);

/**
 * Whether the attempt is paused for a break of the candidate's (not by a proctor).
 * @param {Attempt} attempt
 */
export function isBreak(attempt) {
  return attempt.paused && (attempt.pause_kind === "break" || attempt.pause_kind === "break_counted");
}

/** Whether this attempt may take a break now, as far as its reply says. */
function breakOffered() {
  const breaks = state.view?.breaks;
  if (!breaks?.allowed || state.view?.attempt.paused) return false;
  return breaks.remaining === null || breaks.remaining === undefined || breaks.remaining > 0;
}

export function renderBreakButton() {
  $("break-button").hidden = !breakOffered();
}

function askBreak() {
  const breaks = view().breaks;
  const words = [];
  if (typeof breaks?.remaining === "number") {
    words.push(nt("You can take {count} more break.", "You can take {count} more breaks.", breaks.remaining, { count: breaks.remaining }));
  }
  if (breaks?.count_against_time === true) words.push(t("The clock keeps running during the break."));
  if (breaks?.count_against_time === false) words.push(t("The clock stops during the break."));
  if (typeof breaks?.max_break_s === "number") words.push(t("A break may last up to {duration}.", { duration: duration(breaks.max_break_s) }));
  words.push(t("Your questions are hidden until you come back; your answers so far are saved."));
  $("break-dialog-text").textContent = words.join(" ");
  $("break-dialog-error").textContent = "";
  dialog().showModal();
}

async function startBreak() {
  const button = $("break-start", HTMLButtonElement);
  const error = $("break-dialog-error");
  button.disabled = true;
  try {
    commitText();
    await state.queue?.flush();
    const reply = await takeBreak(session().attemptId);
    if (!reply.ok) {
      error.textContent = problemMessage(reply.problem, "break");
      return;
    }
    dialog().close();
    const shown = view();
    shown.attempt = reply.body;
    if (shown.breaks && typeof shown.breaks.remaining === "number") shown.breaks.remaining -= 1;
    leaveItem();
    renderBreakButton();
    showPause();
  } catch {
    error.textContent = OFFLINE;
  } finally {
    button.disabled = false;
  }
}

/** The pause screen: a break (with the resume button) or a proctor's pause (waiting). */
export function showPause() {
  const shown = view();
  const onBreak = isBreak(shown.attempt);
  const counted = shown.attempt.pause_kind === "break_counted";
  $("pause-heading").textContent = onBreak ? t("You are on a break") : t("Your test is paused");
  const words = onBreak
    ? [counted
        ? t("The clock keeps running during this break: the time left is shown at the top of the page.")
        : t("The clock is stopped until you come back.")]
    : [t("Your test supervisor has paused the test. The clock is stopped."),
       t("Please wait: the test continues here as soon as it is resumed.")];
  const max = shown.breaks?.max_break_s;
  if (onBreak && typeof max === "number") words.push(t("A break may last up to {duration}.", { duration: duration(max) }));
  const resumeButton = t("Resume the test");
  if (onBreak) words.push(t("Your questions are hidden during the break, and your answers are saved. Press {resume} when you are ready.", { resume: resumeButton }));
  $("pause-message").textContent = words.join(" ");
  $("pause-error").textContent = "";
  $("pause-resume").hidden = !onBreak;
  showScreen("screen-pause", onBreak ? t("Break") : t("Test paused"));
  renderTimer();
  focusHeading("pause-heading");
}

async function resume() {
  const button = $("pause-resume", HTMLButtonElement);
  const error = $("pause-error");
  button.disabled = true;
  try {
    const reply = await endBreak(session().attemptId);
    if (!reply.ok) {
      error.textContent = problemMessage(reply.problem, "break-end");
      if (reply.problem.code === "not-on-break") await hooks.refresh();
      return;
    }
    view().attempt = reply.body;
    await hooks.reopen();
    focusHeading("item-heading");
  } catch {
    error.textContent = OFFLINE;
  } finally {
    button.disabled = false;
  }
}

/**
 * Wire the break button, its dialog and the resume button (once, at start).
 * @param {{reopen: () => Promise<void>, refresh: () => Promise<void>}} given  re-open the
 *   attempt after a break (questions included), and re-read it
 */
export function wireBreaks(given) {
  Object.assign(hooks, given);
  $("break-button").addEventListener("click", askBreak);
  $("break-cancel").addEventListener("click", () => dialog().close());
  $("break-start").addEventListener("click", startBreak);
  $("pause-resume").addEventListener("click", resume);
}
