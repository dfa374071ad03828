// @ts-check
// Submitting and the end: the confirm dialog (how many questions are answered and
// flagged), submitting once every queued answer is saved, why the test ended, and the
// released result (asked for a few times, and on the "Check for my result" button).

import { fetchResult, submitAttempt } from "./api.js";
import { commitText } from "./item.js";
import { problemMessage } from "./messages.js";
import { itemStatus } from "./navigation.js";
import { $, session, state, view } from "./store.js";
import { later, stopTimers } from "./timer.js";
import { focusHeading, showScreen } from "./ui.js";

/** @typedef {import("./types.js").Attempt} Attempt */
/** @typedef {import("./types.js").Result} Result */

/** @type {Record<string, string>} */
const ENDINGS = {
  submitted: "Your answers were submitted.",
  expired: "Time is up. The answers you saved were submitted for you.",
  terminated: "Your test was ended by the proctor.",
  invalidated: "This attempt was invalidated.",
};

const dialog = () => $("confirm-dialog", HTMLDialogElement);
const confirmText = () => $("confirm-text");

/**
 * How the attempt ended, also once it has moved on to scoring or release.
 * @param {Attempt} attempt
 */
export function endingOf(attempt) {
  return attempt.state === "invalidated" ? "invalidated" : (attempt.ended_because ?? attempt.state);
}

export function askSubmit() {
  commitText();
  const items = view().items;
  const answered = items.filter((i) => itemStatus(i).answered).length;
  const flagged = items.filter((i) => itemStatus(i).flagged).length;
  confirmText().textContent =
    `You answered ${answered} of ${items.length} questions` +
    (flagged ? ` and ${flagged} ${flagged === 1 ? "is" : "are"} flagged for review` : "") +
    ". After submitting you cannot change your answers.";
  dialog().showModal();
}

async function submit() {
  const button = $("confirm-submit", HTMLButtonElement);
  button.disabled = true;
  try {
    await state.queue?.flush();
    const waiting = state.queue?.queue.length ?? 0;
    if (waiting) {
      confirmText().textContent =
        `${waiting} answer${waiting === 1 ? " is" : "s are"} not saved yet because the connection is down. Submit again when you are back online.`;
      return;
    }
    const reply = await submitAttempt(session().attemptId);
    if (!reply.ok) {
      confirmText().textContent = problemMessage(reply.problem, "submit");
      return;
    }
    dialog().close();
    await showDone(endingOf(reply.body));
  } catch {
    confirmText().textContent = "The server cannot be reached. Submit again when you are back online.";
  } finally {
    button.disabled = false;
  }
}

/**
 * The finished screen: why the test ended, then the result once it is released.
 * @param {string} ending  submitted, expired, terminated, invalidated (or another state)
 */
export async function showDone(ending) {
  state.ended = true;
  stopTimers();
  state.queue?.flush();
  state.events?.flush();
  $("done-message").textContent = ENDINGS[ending] ?? "Your test is finished.";
  showScreen("screen-done", "Test finished");
  focusHeading("done-heading");
  let tries = 0;
  const poll = async () => {
    const released = await loadResult();
    tries += 1;
    if (!released && tries < 8 && state.ended) later(poll, 2000);
  };
  await poll();
}

/** @param {Result} result */
function renderResult(result) {
  const heading = document.createElement("h2");
  heading.textContent = "Your result";
  const list = document.createElement("dl");
  /** @type {(term: string, value: string) => void} */
  const add = (term, value) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  };
  const round = (/** @type {number} */ x) => Math.round(x * 100) / 100;
  add("Score", `${round(result.raw)} out of ${round(result.max_raw)}`);
  if (result.band) add("Band", result.band);
  if (result.passed !== null && result.passed !== undefined) add("Outcome", result.passed ? "Passed" : "Not passed");
  return [heading, list];
}

/** Show the released result; whether there is one yet. */
async function loadResult() {
  const box = $("result");
  let reply;
  try {
    reply = await fetchResult(session().attemptId);
  } catch {
    box.textContent = "Your result cannot be loaded while you are offline.";
    return false;
  }
  if (!reply.ok) {
    const p = document.createElement("p");
    p.textContent = "Your result is not available yet: it will be published later. While this page is open, you can press Check for my result.";
    box.replaceChildren(p);
    $("result-refresh").hidden = false;
    return false;
  }
  box.replaceChildren(...renderResult(reply.body));
  box.dataset.released = "true";
  $("result-refresh").hidden = true;
  return true;
}

/** Wire the submit buttons, the dialog and the result button (once, at start). */
export function wireFinish() {
  $("submit-button").addEventListener("click", askSubmit);
  $("review-submit").addEventListener("click", askSubmit);
  $("confirm-cancel").addEventListener("click", () => dialog().close());
  $("confirm-submit").addEventListener("click", submit);
  $("result-refresh").addEventListener("click", loadResult);
}
