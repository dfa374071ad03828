// @ts-check
// The attempt's life on this page: opening it (resuming every answer and the question
// that was open), re-reading it (the clock, a pause or break, an extension, the end), what
// a refused save means, the time running out, and moving on with linear navigation.

import { ProblemError, advance, fetchView } from "./api.js";
import { showAccess } from "./access.js";
import { startCamera } from "./camera.js";
import { isBreak, renderBreakButton, showPause } from "./breaks.js";
import { endingOf, showDone } from "./finish.js";
import { t } from "./i18n.js";
import { EventBatcher } from "./integrity.js";
import { followLocale, renderLanguageSwitcher } from "./language.js";
import { feedbackOnScreen, isClosed, rememberFeedback } from "./feedback.js";
import { followAttempt, stopFollowing } from "./live.js";
import { problemMessage } from "./messages.js";
import { commitText, lockItem, renderPaused, showItem } from "./item.js";
import { goTo } from "./navigation.js";
import { $, changed, currentItem, forgetSession, leaveItem, session, state, view } from "./store.js";
import { SaveQueue } from "./sync.js";
import { later, startTimers, syncClock } from "./timer.js";
import { announce, focusHeading, itemMessage, renderHeader, renderSaveState, showScreen } from "./ui.js";

/** @typedef {import("./types.js").AttemptState} AttemptState */
/** @typedef {import("./types.js").Problem} Problem */
/** @typedef {import("./types.js").Refusal} Refusal */

/** @type {ReadonlySet<AttemptState>} */
const LIVE = new Set(["in_progress", "paused"]);

/** Open the signed-in attempt: the test where it was left, or the finished screen. */
export async function openAttempt() {
  state.ended = false;
  const { attemptId } = session();
  if (state.queue) state.queue.stopped = true; // the new queue sends what the old one kept
  state.queue = new SaveQueue(attemptId, {
    onState: renderSaveState,
    onSaved: () => changed(),
    onRefused,
  });
  state.events = new EventBatcher(attemptId);
  let read;
  try {
    read = await fetchView(attemptId);
  } catch (error) {
    showAccess(error instanceof ProblemError
      ? problemMessage(error.problem, "open")
      : t("The test server cannot be reached. Your answers are kept on this device; try again when you are back online."));
    return;
  }
  if (read === null) {
    forgetSession();
    showAccess(t("Your session has ended. Enter your access code again to continue; answers not yet saved are kept on this device."));
    return;
  }
  // The page and the attempt in one language: the candidate's choice where the attempt
  // offers it, else the attempt's (the page reloads in it, answers sent first).
  const language = await followLocale(read);
  if (language === "reload") return;
  if (language === "reread") { await openAttempt(); return; }
  state.view = read;
  for (const item of read.items) {
    if (item.response) {
      state.queue.observe(item.ref, item.response.seq);
      state.spent.set(item.ref, item.response.time_spent_ms ?? 0);
    }
  }
  syncClock(read);
  const signedIn = session();
  renderHeader({
    organization: signedIn.organizationName ?? null,
    candidate: signedIn.candidateName ?? null,
    logo: signedIn.organizationLogoUrl ?? null,
    style: signedIn.organizationStyleUrl ?? null,
    title: read.title,
  });
  if (!LIVE.has(read.attempt.state)) {
    stopFollowing();
    await showDone(endingOf(read.attempt));
    return;
  }
  // A proctor's pause, resume, extension or termination arrives within a second.
  followAttempt(attemptId, signedIn.credential, async () => { if (!state.ended) await refresh(); });
  renderBreakButton();
  startTimers();
  if (read.attempt.paused && (isBreak(read.attempt) || read.items.length === 0)) {
    // On a break (or paused with the questions withheld): they come back with the resume.
    showPause();
    watchPause();
    state.queue.report(); // what waits is sent after the resume
    return;
  }
  const current = read.items.findIndex((i) => i.position === read.current_position);
  state.index = current >= 0 ? current : 0;
  showScreen("screen-test", t("Test"));
  renderLanguageSwitcher(read);
  renderPaused();
  // The feedback on the question just left, if it was on screen (a reload keeps it).
  const reading = feedbackOnScreen(read);
  showItem(reading >= 0 ? reading : state.index, { focus: false });
  if (read.attempt.paused) watchPause();
  state.queue.flush();
  // Webcam stills when the test's integrity policy asks for them (asked first, once).
  void startCamera(attemptId, { onPaused: refresh });
}

/** @type {number | undefined} */
let pauseTimer;

/** While paused, ask again every few seconds: the resume or the end shows without a reload. */
function watchPause() {
  clearTimeout(pauseTimer);
  pauseTimer = setTimeout(() => { if (!state.ended) refresh(); }, 5000);
}

/**
 * A save the server refused (sync.js says which case it is).
 * @param {Refusal} kind
 * @param {Problem | null} [problem]  what the server said, worded for the candidate
 */
function onRefused(kind, problem = null) {
  if (kind === "credential") {
    forgetSession();
    showAccess(t("Please enter your access code again. Answers not yet saved are kept on this device and will be sent."));
  } else if (kind === "late") {
    announce(t("The time for this test is over."));
    refresh();
  } else if (kind === "paused") {
    refresh();
  } else {
    itemMessage(problem ? problemMessage(problem, "save") : t("An answer could not be saved."));
  }
}

/** Re-read the attempt: re-syncs the clock, notices a pause, an extension or the end. */
export async function refresh() {
  if (!state.session) return;
  let read;
  try { read = await fetchView(state.session.attemptId); } catch { return; }
  if (read === null) { onRefused("credential"); return; }
  const shown = state.view;
  if (!shown) return;
  if (LIVE.has(read.attempt.state) && read.locale !== shown.locale) {
    const language = await followLocale(read);
    if (language === "reload") return;
    if (language === "reread") { await openAttempt(); return; }
  }
  const wasPaused = shown.attempt.paused;
  shown.attempt = read.attempt;
  shown.remaining_s = read.remaining_s;
  syncClock(read);
  if (!LIVE.has(read.attempt.state)) { stopFollowing(); await showDone(endingOf(read.attempt)); return; }
  if (read.remaining_s !== null && read.remaining_s > 0) { state.timeUp = false; lockItem(false); }
  const onPauseScreen = !$("screen-pause").hidden;
  renderBreakButton();
  if (read.attempt.paused) watchPause();
  if (read.attempt.paused && (isBreak(read.attempt) || shown.items.length === 0)) {
    if (!onPauseScreen) { leaveItem(); showPause(); }
  } else if (onPauseScreen) {
    // Back from a break or a pause: read the attempt again, questions included.
    await openAttempt();
    focusHeading("item-heading");
  } else if (wasPaused !== read.attempt.paused) {
    renderPaused();
    if (!read.attempt.paused) itemMessage("");
  }
}

/** The clock reached zero: lock the item, send what is queued, and ask the server until
 * it has ended the attempt (it keeps accepting saves for a grace period). */
export async function timeUp() {
  if (state.timeUp) return;
  state.timeUp = true;
  announce(t("Time is up. Your last answers are being saved."));
  lockItem(true);
  commitText();
  await state.queue?.flush();
  const poll = async () => {
    if (state.ended) return;
    await refresh();
    if (!state.ended) later(poll, 2000);
  };
  poll();
}

/** Whether a linear move is on its way (a second press waits for it, never moves twice:
 * in an adaptive test it would skip the question just chosen). */
let advancing = false;

/** Next: the next item with free navigation; with linear navigation, ask the server to
 * move on (there is no going back) and reopen the attempt. */
export async function next() {
  if (view().navigation !== "linear") {
    goTo(state.index + 1);
    return;
  }
  const shownItem = currentItem();
  if (isClosed(shownItem) && state.index < view().items.length - 1) {
    rememberFeedback(null);
    goTo(state.index + 1); // moved on already: its feedback was on screen
    return;
  }
  if (advancing) return;
  advancing = true;
  try {
    commitText();
    await state.queue?.flush();
    const reply = await advance(session().attemptId);
    if (!reply.ok) {
      itemMessage(problemMessage(reply.problem, "advance"));
      return;
    }
    leaveItem();
    // With feedback after each item, the question just left comes back read-only with
    // its feedback (openAttempt shows it when it has some); Next then goes on.
    rememberFeedback(shownItem?.ref);
    await openAttempt();
    if (!state.ended) focusHeading(isClosed(currentItem()) ? "item-feedback-heading" : "item-heading");
  } finally {
    advancing = false;
  }
}

/** Network lost and back: the queue waits or sends at once, and the attempt is re-read. */
export function watchNetwork() {
  window.addEventListener("offline", () => state.queue?.setOffline(true));
  window.addEventListener("online", () => {
    state.queue?.setOffline(false);
    state.events?.flush();
    refresh();
  });
}
