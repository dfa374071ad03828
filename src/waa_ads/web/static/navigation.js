// @ts-check
// Moving between questions with free navigation: the numbered question list (each
// button's name says answered / not answered / flagged), Previous/Next, and the review
// screen. The question opened is recorded on the server (`PUT .../position`, a moment after
// the last move), so a reload or another device opens it. (Linear navigation's Next asks
// the server to move on: attempt.js.)

import { putPosition } from "./api.js";
import { formatNumber, nt, t } from "./i18n.js";
import { isAnswered } from "./interactions.js";
import { commitText, showItem } from "./item.js";
import { $, effective, leaveItem, state, subscribe, view } from "./store.js";
import { focusHeading, showScreen } from "./ui.js";

/** @typedef {import("./types.js").ViewItem} ViewItem */

/**
 * Whether an item is answered and flagged, as shown here (this tab's edits first).
 * @param {ViewItem} item
 */
export function itemStatus(item) {
  const { value, flagged } = effective(item);
  return { answered: isAnswered(value), flagged };
}

/**
 * Open the item at `index` on the test screen.
 * @param {number} index
 */
export function goTo(index) {
  leaveItem();
  showScreen("screen-test", t("Test"));
  showItem(index);
  notePosition();
}

/** How long after the last move the position is recorded (moving fast sends one call). */
const POSITION_DELAY_MS = 400;

/** @type {number | undefined} */
let positionTimer;

/** Record the question shown, soon: free navigation only (linear moves with advance). */
function notePosition() {
  clearTimeout(positionTimer);
  positionTimer = undefined;
  if (state.view?.navigation !== "free" || state.ended) return;
  positionTimer = setTimeout(() => recordPosition(false), POSITION_DELAY_MS);
}

/**
 * Send the position now if it changed. Fire and forget: a failure (offline, the test
 * ended, a paused server) changes nothing here, and the next move records again.
 * @param {boolean} leaving  the page is going: the request must outlive it
 */
function recordPosition(leaving) {
  positionTimer = undefined;
  const shown = state.view;
  const item = shown?.items[state.index];
  if (!shown || !item || !state.session || shown.navigation !== "free") return;
  if (item.position === shown.current_position) return;
  const position = item.position;
  putPosition(state.session.attemptId, position, leaving).then(
    (response) => { if (response.ok && state.view === shown) shown.current_position = position; },
    () => { /* offline: the next move records again */ },
  );
}

/** Send a position still waiting (the page is being left). */
export function flushPosition() {
  if (positionTimer === undefined) return;
  clearTimeout(positionTimer);
  recordPosition(true);
}

/** The progress bar: how many questions are answered, of all on the test. */
function renderProgress() {
  if (!state.view) return;
  const total = state.view.item_count;
  const answered = state.view.items.filter((item) => itemStatus(item).answered).length;
  $("progress-label").textContent = state.view.more_items
    ? t("{answered} answered", { answered: formatNumber(answered) })
    : t("{answered} of {total} answered", { answered: formatNumber(answered), total: formatNumber(total) });
  const bar = $("progress-bar", HTMLProgressElement);
  // An adaptive test's length is not known until it stops: no bar to fill meanwhile.
  bar.hidden = !!state.view.more_items;
  bar.max = Math.max(total, 1);
  bar.value = answered;
}

export function renderQuestionList() {
  if (!state.view) return;
  renderProgress();
  const list = $("question-list");
  const items = state.view.items;
  // Built once and then updated in place: re-creating the buttons while one is being
  // pressed (a save on focus-out happens between mousedown and click) would lose the click.
  if (list.children.length !== items.length) {
    list.replaceChildren(...items.map((item, index) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = formatNumber(item.position);
      button.addEventListener("click", () => goTo(index));
      li.append(button);
      return li;
    }));
  }
  items.forEach((item, index) => {
    const { answered, flagged } = itemStatus(item);
    const button = list.children[index].firstElementChild;
    if (!button) return;
    button.className = `question-link${answered ? " answered" : ""}${flagged ? " flagged" : ""}`;
    const words = [t("Question {number}", { number: formatNumber(item.position) }), answered ? t("answered") : t("not answered")];
    if (flagged) words.push(t("flagged"));
    button.setAttribute("aria-label", words.join(", "));
    if (index === state.index) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
  });
}

export function showReview() {
  commitText();
  leaveItem();
  const items = view().items;
  const rows = $("review-rows");
  rows.replaceChildren();
  let unanswered = 0;
  let flaggedCount = 0;
  items.forEach((item, index) => {
    const { answered, flagged } = itemStatus(item);
    if (!answered) unanswered += 1;
    if (flagged) flaggedCount += 1;
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = t("Question {number}", { number: formatNumber(item.position) });
    button.addEventListener("click", () => goTo(index));
    th.append(button);
    const answer = document.createElement("td");
    answer.textContent = answered ? t("Answered") : t("Not answered");
    const flag = document.createElement("td");
    flag.textContent = flagged ? t("Flagged") : "";
    tr.append(th, answer, flag);
    rows.append(tr);
  });
  $("review-summary").textContent = nt(
    "{answered} of {total} question answered; {flagged} flagged for review.",
    "{answered} of {total} questions answered; {flagged} flagged for review.",
    items.length,
    { answered: formatNumber(items.length - unanswered), total: formatNumber(items.length), flagged: formatNumber(flaggedCount) },
  );
  showScreen("screen-review", t("Review your answers"));
  focusHeading("review-heading");
}

/** Wire Previous, the review screen's buttons and the question list (once, at start). */
export function wireNavigation() {
  subscribe(renderQuestionList);
  $("prev-button").addEventListener("click", () => goTo(state.index - 1));
  $("review-button").addEventListener("click", showReview);
  $("review-back").addEventListener("click", () => goTo(state.index));
}
