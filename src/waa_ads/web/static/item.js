// @ts-check
// The question on screen: showing an item (its server-sanitized HTML with the response
// written back into its controls), and saving what the candidate changes. Choices are
// saved at once; typing 600 ms after the last key, and at once when focus leaves the field
// or the candidate moves on.

import { formatNumber, languages, t } from "./i18n.js";
import { closeControls, isClosed, renderItemFeedback } from "./feedback.js";
import { enhanceItem, isTyped, readItem, writeItem } from "./interactions.js";
import { renderStimuli } from "./stimulus.js";
import { $, changed, currentItem, effective, state, timeSpent, view } from "./store.js";
import { focusHeading, itemMessage } from "./ui.js";

/** @typedef {import("./types.js").ResponseValue} ResponseValue */

const TYPING_PAUSE_MS = 600;

/** @type {number | null} */
let textTimer = null;

const form = () => $("item-form", HTMLFormElement);
const flagToggle = () => $("flag-toggle", HTMLInputElement);
const button = (/** @type {string} */ id) => $(id, HTMLButtonElement);

/**
 * Show the item at `index` (clamped to the items there are).
 * @param {number} index
 * @param {{focus?: boolean}} [options]  `focus`: move focus to the question's heading
 */
export function showItem(index, { focus = true } = {}) {
  commitText();
  const shown = view();
  const items = shown.items;
  state.index = Math.max(0, Math.min(index, items.length - 1));
  const item = items[state.index];
  // A stimulus the question before showed too was read with it: focus goes to the question.
  const stimulusRead = renderStimuli(item);
  const body = form();
  body.innerHTML = item.item.html; // sanitized on the server (content/render/)
  body.lang = item.item.language || "";
  // The question reads in its own language's direction, whatever the page's.
  body.dir = languages[item.item.language ?? ""]?.dir ?? "auto";
  const { value, flagged } = effective(item);
  writeItem(body, item.item.interactions, value);
  enhanceItem(body, item, value);
  // Its feedback is out (the test's policy shows it once the candidate moved on): the
  // answer is final, so the question is read-only.
  const closed = renderItemFeedback(item);
  body.classList.remove("closed-item");
  if (closed) closeControls(body);
  // An adaptive test chooses each next question from the answers so far: its length is
  // not known in advance.
  $("item-heading").textContent = shown.more_items
    ? t("Question {number}", { number: formatNumber(item.position) })
    : t("Question {number} of {total}", { number: formatNumber(item.position), total: formatNumber(shown.item_count) });
  itemMessage("");
  flagToggle().checked = flagged;
  const flagLabel = flagToggle().parentElement;
  if (flagLabel) flagLabel.hidden = !shown.allow_flags || closed;
  const linear = shown.navigation === "linear";
  button("prev-button").hidden = linear;
  button("prev-button").disabled = state.index === 0;
  button("next-button").disabled = linear
    ? item.position >= shown.item_count && !shown.more_items
    : state.index === items.length - 1;
  button("review-button").hidden = !shown.allow_review || linear;
  $("question-nav").hidden = linear;
  state.shownAt = performance.now();
  changed();
  if (focus) focusHeading(stimulusRead ? "item-form" : "item-heading");
}

/** Lock the item while the attempt is paused, and say why. */
export function renderPaused() {
  const paused = state.view?.attempt.paused;
  form().inert = !!paused;
  if (paused) itemMessage(t("The test is paused. The clock is stopped; please wait."));
}

/** @param {boolean} locked  the item cannot be changed (time is up) */
export function lockItem(locked) {
  form().inert = locked;
}

/** Save the shown item now (reading every control), if it changed. */
export function saveCurrent() {
  clearTimeout(textTimer ?? undefined);
  textTimer = null;
  const item = currentItem();
  if (!item || !state.queue || isClosed(item)) return; // final: its feedback is out
  /** @type {ResponseValue | undefined} */
  let value;
  try {
    value = readItem(form(), item.item.interactions);
  } catch (error) {
    itemMessage(error instanceof Error ? error.message : String(error));
    return;
  }
  if (value === undefined) value = effective(item).value; // uploads: kept as stored
  itemMessage("");
  const flagged = flagToggle().checked;
  const before = effective(item);
  if (JSON.stringify(before.value) === JSON.stringify(value) && before.flagged === flagged) return;
  state.local.set(item.ref, { value, flagged });
  state.queue.enqueue(item.ref, value, flagged, timeSpent(item));
  changed();
}

/** Typing is saved after a short pause, and at once when the candidate moves on. */
export function commitText() {
  if (textTimer !== null) saveCurrent();
}

/**
 * An `input` or `change` event in the item's form.
 * @param {Event} event
 */
export function onFormEdit(event) {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return;
  if (target instanceof HTMLInputElement && target.type === "file") return;
  const fieldset = target.closest("[data-interaction-type]");
  const typing = event.type === "input" && (target.tagName === "TEXTAREA"
    || (target instanceof HTMLInputElement && target.type === "text")
    || (fieldset instanceof HTMLElement && isTyped(fieldset.dataset.interactionType)));
  if (typing) {
    clearTimeout(textTimer ?? undefined);
    textTimer = setTimeout(saveCurrent, TYPING_PAUSE_MS);
  } else {
    saveCurrent();
  }
}

/** Wire the item's form and the flag (once, at start). */
export function wireItem() {
  const body = form();
  body.addEventListener("submit", (e) => e.preventDefault());
  body.addEventListener("input", onFormEdit);
  body.addEventListener("change", onFormEdit);
  body.addEventListener("focusout", commitText);
  flagToggle().addEventListener("change", saveCurrent);
}
