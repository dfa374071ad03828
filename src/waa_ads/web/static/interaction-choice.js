// @ts-check
// Choice-like interactions: choice (radio buttons or check boxes), hot text (the same,
// inside the text) and inline choice (a select). The response is the chosen identifier,
// or a list of them for multiple cardinality (`true`/`false` for a boolean declaration).

import { asList, inputs, loneControl, scalar } from "./interaction-controls.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */

/**
 * The checked options of a group: one (or `null`) for single cardinality, else a list.
 * @param {HTMLElement} el
 * @param {InteractionDescription} description
 * @returns {ResponseValue}
 */
export function readSelection(el, description) {
  const checked = inputs(el, "input:checked").map((i) => scalar(description, i.value));
  if (description.cardinality === "single") return checked.length ? checked[0] : null;
  return checked;
}

/**
 * Check exactly the options of a stored response.
 * @param {HTMLElement} el
 * @param {ResponseValue} value
 */
export function writeSelection(el, value) {
  const wanted = new Set(asList(value).map(String));
  for (const input of inputs(el)) input.checked = wanted.has(input.value);
}

/** @type {InteractionFamily} */
export const choice = {
  types: ["choice", "hottext", "inline_choice"],
  read(el, description) {
    if (description.type !== "inline_choice") return readSelection(el, description);
    const select = loneControl(el);
    return select.value === "" ? null : scalar(description, select.value);
  },
  write(el, description, value) {
    if (description.type !== "inline_choice") writeSelection(el, value);
    else loneControl(el).value = value === null ? "" : String(value);
  },
};
