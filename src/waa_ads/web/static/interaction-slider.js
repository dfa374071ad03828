// @ts-check
// Slider: an `input type=range` with its value shown next to it. The response is the
// number, only once the slider was moved: one that was never moved is no response, not
// its starting value.

import { formatNumber, t } from "./i18n.js";

/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */

/**
 * @param {HTMLElement} el
 * @returns {HTMLInputElement | null}
 */
function range(el) {
  return el.querySelector("input[type=range]");
}

/** @type {InteractionFamily} */
export const slider = {
  types: ["slider"],
  read(el, description) {
    const input = range(el);
    if (!input || input.dataset.touched !== "true") return null;
    return description.base_type === "integer" ? Math.round(Number(input.value)) : Number(input.value);
  },
  write(el, _description, value) {
    const input = range(el);
    if (input && value !== null) {
      input.value = String(value);
      input.dataset.touched = "true";
    }
  },
  enhance(el) {
    const input = range(el);
    if (!input) return;
    const output = input.parentElement?.querySelector("output");
    const show = () => {
      if (output) output.textContent = input.dataset.touched === "true" ? formatNumber(Number(input.value)) : t("not set");
    };
    input.addEventListener("input", () => { input.dataset.touched = "true"; show(); });
    show();
  },
};
