// @ts-check
// Interactions that relate options to each other, all answered with selects or check
// boxes, the keyboard and screen-reader way; gap match and associate also let the pointer
// drag an option onto a select (drag-drop.js), which sets that select:
// - order: a position select per option; the options that have a position, sorted by it;
// - match: a grid of check boxes; `["source target", ...]`;
// - associate: pairs of selects; `["a b", ...]` for complete pairs of two different options;
// - gap match: a select per gap; `["choice gap", ...]`.
// Their graphic kin are read the same way: graphic order (a position select per area),
// graphic associate (pairs of area selects) and graphic gap match (a select per area,
// `["label area", ...]`); on the picture they are answered with the pointer too
// (interaction-areas.js).

import { dragToSelects } from "./drag-drop.js";
import { pictureAreas } from "./interaction-areas.js";
import { asList, asPair, inputs, selects } from "./interaction-controls.js";

/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */

/**
 * @param {HTMLElement} el
 * @returns {string[]}
 */
function readOrder(el) {
  /** @type {Array<[number, string]>} */
  const ranked = selects(el, "select[data-choice]")
    .filter((s) => s.value !== "")
    .map((s) => [Number(s.value), s.dataset.choice ?? ""]);
  ranked.sort((a, b) => a[0] - b[0]);
  return ranked.map((r) => r[1]);
}

/**
 * @param {HTMLElement} el
 * @returns {string[]}
 */
function readAssociations(el) {
  /** @type {Map<string, string[]>} */
  const pairs = new Map();
  for (const select of selects(el)) {
    const list = pairs.get(select.name) ?? [];
    list.push(select.value);
    pairs.set(select.name, list);
  }
  return Array.from(pairs.values())
    .filter(([a, b]) => a && b && a !== b)
    .map(([a, b]) => `${a} ${b}`);
}

/**
 * @param {HTMLElement} el
 * @param {ResponseValue} value
 */
function writeAssociations(el, value) {
  const pairs = asList(value).map(asPair);
  /** @type {string[]} */
  const names = [];
  for (const select of selects(el)) {
    if (!names.includes(select.name)) names.push(select.name);
  }
  names.forEach((name, n) => {
    const pair = pairs[n] ?? ["", ""];
    selects(el).filter((s) => s.name === name).forEach((s, side) => { s.value = pair[side] ?? ""; });
  });
}

/** @type {InteractionFamily} */
export const pairs = {
  types: ["order", "match", "associate", "gap_match", "graphic_order", "graphic_associate", "graphic_gap_match"],
  read(el, description) {
    switch (description.type) {
      case "order":
      case "graphic_order":
        return readOrder(el);
      case "match":
        return inputs(el, "input[type=checkbox]:checked").map((i) => i.value);
      case "associate":
      case "graphic_associate":
        return readAssociations(el);
      default: // gap_match, graphic_gap_match
        return selects(el, "select[data-gap]")
          .filter((s) => s.value !== "")
          .map((s) => `${s.value} ${s.dataset.gap}`);
    }
  },
  write(el, description, value) {
    switch (description.type) {
      case "order":
      case "graphic_order": {
        const order = asList(value);
        for (const select of selects(el, "select[data-choice]")) {
          const at = order.indexOf(select.dataset.choice ?? "");
          select.value = at >= 0 ? String(at + 1) : "";
        }
        break;
      }
      case "match": {
        const wanted = new Set(asList(value).map((p) => asPair(p).join(" ")));
        for (const input of inputs(el, "input[type=checkbox]")) input.checked = wanted.has(input.value);
        break;
      }
      case "associate":
      case "graphic_associate":
        writeAssociations(el, value);
        break;
      default: { // gap_match, graphic_gap_match
        const byGap = new Map(asList(value).map((p) => { const [c, g] = asPair(p); return [g, c]; }));
        for (const select of selects(el, "select[data-gap]")) {
          select.value = byGap.get(select.dataset.gap ?? "") ?? "";
        }
      }
    }
  },
  enhance(el, description) {
    if (description.type === "gap_match" || description.type === "associate") dragToSelects(el, description);
    else if (description.type.startsWith("graphic_")) pictureAreas(el, description);
  },
};
