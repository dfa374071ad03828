// @ts-check
// Submitting and the end: the confirm dialog (how many questions are answered and
// flagged), submitting once every queued answer is saved, why the test ended, and the
// released result. The result is read from the access code's lookup (never the result
// route, which answers 404 until it is released): soon after the end, then every 30
// seconds while the page is open, and on the "Check for my result" button.

import { lookupCode, submitAttempt } from "./api.js";
import { stopCamera } from "./camera.js";
import { formatNumber, nt, t } from "./i18n.js";
import { commitText } from "./item.js";
import { problemMessage } from "./messages.js";
import { itemStatus } from "./navigation.js";
import { showTestFeedback } from "./feedback.js";
import { feedbackSection, resultList } from "./results.js";
import { scorecardDownload } from "./scorecard.js";
import { $, session, state, view } from "./store.js";
import { later, stopTimers } from "./timer.js";
import { focusHeading, showScreen } from "./ui.js";

/** @typedef {import("./types.js").Attempt} Attempt */

/** When to ask for the result after the end (ms): soon (scoring is often immediate), then
 * every 30 seconds. */
const FIRST_CHECKS_MS = [2000, 5000];
const POLL_MS = 30_000;

/** @type {Record<string, string>} */
const ENDINGS = {
  submitted: t("Your answers were submitted."),
  expired: t("Time is up. The answers you saved were submitted for you."),
  terminated: t("Your test was ended by the proctor."),
  invalidated: t("This attempt was invalidated."),
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
  const counts = { answered: formatNumber(answered), total: formatNumber(items.length), flagged: formatNumber(flagged) };
  const done = flagged
    ? nt(
      "You answered {answered} of {total} questions and {flagged} is flagged for review.",
      "You answered {answered} of {total} questions and {flagged} are flagged for review.",
      flagged, counts)
    : nt("You answered {answered} of {total} question.", "You answered {answered} of {total} questions.", items.length, counts);
  const final = t("After submitting you cannot change your answers.");
  confirmText().textContent = `${done} ${final}`;
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
        nt(
          "{count} answer is not saved yet because the connection is down. Submit again when you are back online.",
          "{count} answers are not saved yet because the connection is down. Submit again when you are back online.",
          waiting, { count: formatNumber(waiting) });
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
    confirmText().textContent = t("The server cannot be reached. Submit again when you are back online.");
  } finally {
    button.disabled = false;
  }
}

/**
 * The finished screen: why the test ended, then the result once it is released.
 * @param {string} ending  submitted, expired, terminated, invalidated (or another state)
 */
export async function showDone(ending) {
  // Told again (the submit's reply and the live channel both say it ended): the screen and
  // its result stay as they are, so a scorecard being downloaded keeps its status line.
  // (Its timers include the result's next check, which must go on.)
  const shown = state.ended && !$("screen-done").hidden;
  state.ended = true;
  $("done-message").textContent = ENDINGS[ending] ?? t("Your test is finished.");
  if (shown) return;
  stopCamera();
  stopTimers();
  state.queue?.flush();
  state.events?.flush();
  showScreen("screen-done", t("Test finished"));
  focusHeading("done-heading");
  $("done-error").textContent = "";
  $("result").replaceChildren();
  delete $("result").dataset.released;
  void showTestFeedback();
  let checks = 0;
  const poll = async () => {
    if (!state.ended || $("screen-done").hidden) return;
    const released = await loadResult();
    if (!released) later(poll, FIRST_CHECKS_MS[checks++] ?? POLL_MS);
  };
  await poll();
}

/** Show the released result of this attempt, from the code's lookup; whether there is one. */
async function loadResult() {
  const box = $("result");
  const { attemptId, accessCode } = session();
  $("done-attempts").hidden = !accessCode;
  /** @type {(text: string) => false} */
  const say = (text) => {
    const p = document.createElement("p");
    p.textContent = text;
    box.replaceChildren(p);
    $("result-refresh").hidden = false;
    return false;
  };
  const button = t("Check for my result");
  if (!accessCode) return say(t("Your result is not shown here. Enter your access code again later to see it once it is published."));
  let reply;
  try {
    reply = await lookupCode(accessCode);
  } catch {
    return say(t("Your result cannot be checked while you are offline. It is checked again when you press {button}.", { button }));
  }
  const attempt = reply.ok ? reply.body.attempts.find((a) => a.id === attemptId) : undefined;
  if (!attempt?.result_released || !attempt.result) {
    return say(t("Your result is not released yet: it will be published later. This page checks every {seconds} seconds, or press {button}. You can also come back later and enter your access code to see it.", { seconds: formatNumber(POLL_MS / 1000), button }));
  }
  const heading = document.createElement("h2");
  heading.textContent = t("Your result");
  const feedback = feedbackSection(attempt.result, 3, t("Feedback on your answers"));
  box.replaceChildren(
    heading,
    resultList(attempt.result),
    scorecardDownload(accessCode, attemptId),
    ...(feedback ? [feedback] : []),
  );
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
