// @ts-check
// Drag and drop onto the selects of gap match (a word into a gap) and associate (an option
// into one side of a pair). The selects stay the keyboard and screen-reader way to answer;
// with a pointer (mouse, pen or touch: pointer events, not HTML5 drag, which touch screens
// lack) the option's chip can be dragged onto a select instead, which sets it and sends the
// usual change event, so the answer is read and saved as if chosen from the list. An option
// that may be used once leaves the select it was in when it is dropped somewhere else.

import { t } from "./i18n.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */

/** A pointer must move this far (CSS pixels) before a press becomes a drag. */
const THRESHOLD = 4;

/**
 * @param {HTMLElement} el
 * @returns {HTMLSelectElement[]}
 */
const targetsOf = (el) => /** @type {HTMLSelectElement[]} */ (Array.from(el.querySelectorAll("select")));

/**
 * The select under the pointer, if it is one of this interaction's and offers `choice`.
 * @param {HTMLElement} el
 * @param {string} choice
 * @param {number} x
 * @param {number} y
 */
function targetAt(el, choice, x, y) {
  const under = document.elementFromPoint(x, y)?.closest("select");
  if (!(under instanceof HTMLSelectElement) || !el.contains(under)) return null;
  return Array.from(under.options).some((o) => o.value === choice) ? under : null;
}

/**
 * Mark the chips whose option is in a select (`placed`), for the eye only.
 * @param {HTMLElement} el
 * @param {HTMLElement[]} chips
 */
function markPlaced(el, chips) {
  const used = new Set(targetsOf(el).map((s) => s.value).filter(Boolean));
  for (const chip of chips) chip.classList.toggle("placed", used.has(chip.dataset.choice ?? ""));
}

/**
 * Put `choice` into `target` (taking it out of another select when it may be used once).
 * @param {HTMLElement} el
 * @param {InteractionDescription} description
 * @param {HTMLSelectElement} target
 * @param {string} choice
 */
function drop(el, description, target, choice) {
  const option = description.options?.find((o) => o.identifier === choice);
  if (description.type === "gap_match" && option?.match_max === 1) {
    for (const other of targetsOf(el)) {
      if (other !== target && other.value === choice) other.value = "";
    }
  }
  target.value = choice;
  target.dispatchEvent(new Event("change", { bubbles: true }));
}

/**
 * Follow one press on a chip: a drag once it moves, a drop on the select it ends over.
 * @param {HTMLElement} el
 * @param {InteractionDescription} description
 * @param {HTMLElement} chip
 * @param {PointerEvent} down
 */
function follow(el, description, chip, down) {
  const choice = chip.dataset.choice ?? "";
  /** @type {HTMLElement | null} */
  let ghost = null;
  /** @type {HTMLSelectElement | null} */
  let over = null;
  chip.setPointerCapture(down.pointerId);
  /** @param {PointerEvent} move */
  const onMove = (move) => {
    if (!ghost) {
      if (Math.hypot(move.clientX - down.clientX, move.clientY - down.clientY) < THRESHOLD) return;
      ghost = /** @type {HTMLElement} */ (chip.cloneNode(true));
      ghost.className = "waa-drag-ghost";
      ghost.removeAttribute("data-choice");
      ghost.setAttribute("aria-hidden", "true");
      document.body.append(ghost);
      chip.classList.add("dragging");
      el.classList.add("waa-dragging");
    }
    // Positioned through the CSS object model, which the style-src policy allows.
    ghost.style.left = `${move.clientX}px`;
    ghost.style.top = `${move.clientY}px`;
    const target = targetAt(el, choice, move.clientX, move.clientY);
    if (target !== over) {
      over?.classList.remove("drop-over");
      target?.classList.add("drop-over");
      over = target;
    }
  };
  /** @param {PointerEvent} end */
  const onEnd = (end) => {
    chip.removeEventListener("pointermove", onMove);
    chip.removeEventListener("pointerup", onEnd);
    chip.removeEventListener("pointercancel", onEnd);
    over?.classList.remove("drop-over");
    chip.classList.remove("dragging");
    el.classList.remove("waa-dragging");
    ghost?.remove();
    if (ghost && over && end.type === "pointerup") drop(el, description, over, choice);
  };
  chip.addEventListener("pointermove", onMove);
  chip.addEventListener("pointerup", onEnd);
  chip.addEventListener("pointercancel", onEnd);
}

/**
 * Let the options of a gap match or associate interaction be dragged onto its selects.
 * @param {HTMLElement} el  the interaction's fieldset
 * @param {InteractionDescription} description
 */
export function dragToSelects(el, description) {
  const chips = /** @type {HTMLElement[]} */ (Array.from(el.querySelectorAll("ul > li[data-choice]")));
  const list = chips[0]?.parentElement;
  if (!list || !targetsOf(el).length) return;
  list.classList.add("waa-chips");
  for (const chip of chips) {
    chip.classList.add("waa-chip");
    chip.addEventListener("pointerdown", (down) => {
      if (down.button !== 0 || !down.isPrimary) return;
      down.preventDefault(); // no text selection while dragging
      follow(el, description, chip, down);
    });
  }
  for (const target of targetsOf(el)) target.classList.add("drop-target");
  const hint = document.createElement("p");
  hint.className = "waa-dnd-hint";
  hint.textContent = description.type === "gap_match"
    ? t("Drag a word into a gap, or choose it from the gap's list.")
    : t("Drag an item onto a box of a pair, or choose it from the box's list.");
  list.before(hint);
  markPlaced(el, chips);
  el.addEventListener("change", () => markPlaced(el, chips));
}
