// @ts-check
// Small helpers the interaction modules share: finding an interaction's controls and
// turning stored values into lists and pairs.

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */

/**
 * The element that holds an interaction's controls (a fieldset, or the control itself).
 * @param {ParentNode} root
 * @param {InteractionDescription} description
 * @returns {HTMLElement | null}
 */
export function interactionElement(root, description) {
  return root.querySelector(`#${CSS.escape(description.dom_id)}`);
}

/**
 * The input elements under `el` that match `selector`.
 * @param {ParentNode} el
 * @param {string} [selector]
 * @returns {HTMLInputElement[]}
 */
export function inputs(el, selector = "input") {
  return /** @type {HTMLInputElement[]} */ (Array.from(el.querySelectorAll(selector)));
}

/**
 * The select elements under `el` that match `selector`.
 * @param {ParentNode} el
 * @param {string} [selector]
 * @returns {HTMLSelectElement[]}
 */
export function selects(el, selector = "select") {
  return /** @type {HTMLSelectElement[]} */ (Array.from(el.querySelectorAll(selector)));
}

/**
 * An interaction's lone control (a text input or a select) when `dom_id` names it.
 * @param {HTMLElement} el
 * @returns {HTMLInputElement | HTMLSelectElement}
 */
export function loneControl(el) {
  return /** @type {HTMLInputElement | HTMLSelectElement} */ (el);
}

/**
 * A control's value as the response declares it (`"true"` is `true` for a boolean).
 * @param {InteractionDescription} description
 * @param {string} raw
 * @returns {string | boolean}
 */
export function scalar(description, raw) {
  if (description.base_type === "boolean") return raw === "true";
  return raw;
}

/**
 * A stored value as a list (no response is an empty list).
 * @param {ResponseValue | undefined} value
 * @returns {ResponseValue[]}
 */
export function asList(value) {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * A pair (`"a b"` or `["a", "b"]`, also a point) as its two parts, as text.
 * @param {ResponseValue} entry
 * @returns {string[]}
 */
export function asPair(entry) {
  return Array.isArray(entry) ? entry.map(String) : String(entry).split(/\s+/);
}
