// @ts-check
// Interactions on a picture: hotspot (radio buttons or check boxes, one per area, read
// like a choice) and select point (an "x y" field per point; `[x, y]` or a list).
// For a hotspot the labelled controls next to the picture stay the keyboard (and screen
// reader) way to answer, and a click on the picture checks the area under it. A select
// point's fields (and a position object's, on its stage) are hidden behind markers on the
// picture and keyboard handles
// (point-picker.js), which write them; the usual events save them.

import { t } from "./i18n.js";

import { readSelection, writeSelection } from "./interaction-choice.js";
import { asList, asPair, inputs } from "./interaction-controls.js";
import { pointPicker } from "./point-picker.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").Point} Point */

/**
 * @param {string} text
 * @returns {Point | undefined}
 */
function parsePoint(text) {
  const match = /^\s*(-?\d+)\s*[ ,;]\s*(-?\d+)\s*$/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * Whether (x, y) is inside an area of a hotspot picture.
 * @param {string | undefined} shape  rect, circle, ellipse or poly
 * @param {number[]} coords
 * @param {number} x
 * @param {number} y
 */
export function inside(shape, coords, x, y) {
  if (shape === "rect") {
    const [x1, y1, x2, y2] = coords;
    return x >= Math.min(x1, x2) && x <= Math.max(x1, x2) && y >= Math.min(y1, y2) && y <= Math.max(y1, y2);
  }
  if (shape === "circle") {
    const [cx, cy, r] = coords;
    return (x - cx) ** 2 + (y - cy) ** 2 <= r ** 2;
  }
  if (shape === "ellipse") {
    const [cx, cy, rx, ry] = coords;
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  }
  if (shape === "poly") {
    let hit = false;
    for (let i = 0, j = coords.length - 2; i < coords.length; j = i, i += 2) {
      const [xi, yi, xj, yj] = [coords[i], coords[i + 1], coords[j], coords[j + 1]];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }
  return false;
}

/**
 * The point clicked on a picture, in the picture's own pixels (its width and height
 * attributes), whatever size it is drawn at.
 * @param {HTMLImageElement} img
 * @param {MouseEvent} event
 * @returns {Point}
 */
function pictureCoordinates(img, event) {
  const box = img.getBoundingClientRect();
  // The content box: borders (if a stylesheet adds any) are not part of the picture.
  const left = box.left + img.clientLeft;
  const top = box.top + img.clientTop;
  const shownWidth = img.clientWidth || box.width;
  const shownHeight = img.clientHeight || box.height;
  const width = Number(img.getAttribute("width")) || img.naturalWidth || shownWidth;
  const height = Number(img.getAttribute("height")) || img.naturalHeight || shownHeight;
  return [
    Math.round(((event.clientX - left) / shownWidth) * width),
    Math.round(((event.clientY - top) / shownHeight) * height),
  ];
}

/**
 * A click on a hotspot picture checks the area under the pointer.
 * @param {HTMLElement} el
 * @param {Point} point
 */
function clickedHotspot(el, [x, y]) {
  const hit = inputs(el, "input[data-coords]").find((input) =>
    inside(input.dataset.shape, (input.dataset.coords ?? "").split(",").map(Number), x, y));
  if (!hit) return;
  hit.checked = hit.type === "radio" ? true : !hit.checked;
  hit.dispatchEvent(new Event("change", { bubbles: true }));
  hit.focus();
}

/** @type {InteractionFamily} */
export const graphic = {
  types: ["hotspot", "select_point", "position_object"],
  typed: ["select_point", "position_object"],
  read(el, description) {
    if (description.type === "hotspot") return readSelection(el, description);
    /** @type {Point[]} */
    const points = [];
    for (const input of inputs(el, "input[type=text]")) {
      if (input.value.trim() === "") continue;
      const point = parsePoint(input.value);
      if (!point) throw new Error(t("A point could not be read. Please place it again on the picture."));
      points.push(point);
    }
    if (description.cardinality === "single") return points.length ? points[0] : null;
    return points;
  },
  write(el, description, value) {
    if (description.type === "hotspot") {
      writeSelection(el, value);
      return;
    }
    const points = description.cardinality === "single" ? (value ? [value] : []) : asList(value);
    inputs(el, "input[type=text]").forEach((input, n) => {
      const point = points[n];
      input.value = point ? asPair(point).join(" ") : "";
    });
  },
  enhance(el, description) {
    const img = el.querySelector(".waa-graphic img");
    if (!(img instanceof HTMLImageElement)) return;
    img.classList.add("clickable");
    if (description.type !== "hotspot") { // select point, or where a position object goes
      pointPicker(el, img, description.graphic);
      return;
    }
    img.addEventListener("click", (event) => clickedHotspot(el, pictureCoordinates(img, event)));
  },
};
