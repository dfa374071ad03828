// @ts-check
// Typed answers: text entry and numeric entry (one text input; the text as typed, the
// server normalizes numbers) and extended text (textareas: the text, or a list of texts
// for several strings). Typing is saved after a short pause (item.js).

import { loneControl } from "./interaction-controls.js";

/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */

/**
 * @param {HTMLElement} el
 * @returns {HTMLTextAreaElement[]}
 */
function areas(el) {
  return Array.from(el.querySelectorAll("textarea"));
}

/** @type {InteractionFamily} */
export const text = {
  types: ["text_entry", "numeric_entry", "extended_text"],
  typed: ["text_entry", "numeric_entry", "extended_text"],
  read(el, description) {
    if (description.type !== "extended_text") {
      const input = loneControl(el);
      return input.value === "" ? null : input.value;
    }
    const texts = areas(el).map((t) => t.value);
    if (description.cardinality === "single") return texts[0] ? texts[0] : null;
    return texts.filter((t) => t !== "");
  },
  write(el, description, value) {
    if (description.type !== "extended_text") {
      loneControl(el).value = value === null ? "" : String(value);
      return;
    }
    const texts = Array.isArray(value) ? value : [value ?? ""];
    areas(el).forEach((area, n) => { area.value = String(texts[n] ?? ""); });
  },
};
