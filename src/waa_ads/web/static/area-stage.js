// @ts-check
// The picture of a graphic order, associate or gap match interaction as a stage: the
// picture in a box with a marker over each area (for the eye only: the selects below it
// are the accessible record), room for lines, a polite status, and finding the area under
// a pointer. Used by interaction-areas.js, area-pairs.js and area-labels.js.

import { inside } from "./interaction-graphic.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").Point} Point */

export const SVG = "http://www.w3.org/2000/svg";
/** A pointer must move this far (CSS pixels) before a press becomes a drag. */
export const THRESHOLD = 4;

/**
 * @typedef {object} Area
 * @property {string} identifier
 * @property {string} label
 * @property {string | undefined} shape
 * @property {number[]} coords
 * @property {HTMLElement} mark  the marker over the area (for the eye only)
 */

/**
 * @typedef {object} Stage
 * @property {HTMLElement} el  the interaction's fieldset
 * @property {HTMLImageElement} img
 * @property {HTMLElement} box  the picture and its markers
 * @property {SVGSVGElement} lines  the lines between paired areas (associate)
 * @property {Area[]} areas
 * @property {number} width  the picture's own size, which coordinates are measured in
 * @property {number} height
 * @property {HTMLElement} status  a polite live region saying what a pointer changed
 */

/**
 * An area's centre, for its marker and the lines (the middle of its bounding box).
 * @param {string | undefined} shape
 * @param {number[]} c
 * @returns {Point}
 */
export function centre(shape, c) {
  if (shape === "circle" || shape === "ellipse") return [c[0], c[1]];
  if (shape === "rect") return [(c[0] + c[2]) / 2, (c[1] + c[3]) / 2];
  const xs = c.filter((_, i) => i % 2 === 0);
  const ys = c.filter((_, i) => i % 2 === 1);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

/**
 * Where a pointer is on the picture, in the picture's own pixels.
 * @param {Stage} stage
 * @param {{clientX: number, clientY: number}} at
 * @returns {Point}
 */
export function pictureCoordinates(stage, { clientX, clientY }) {
  const box = stage.img.getBoundingClientRect();
  return [
    ((clientX - box.left) / (box.width || 1)) * stage.width,
    ((clientY - box.top) / (box.height || 1)) * stage.height,
  ];
}

/**
 * The area under a pointer, if any (the last drawn wins, as on the picture).
 * @param {Stage} stage
 * @param {{clientX: number, clientY: number}} at
 */
export function areaAt(stage, at) {
  const box = stage.img.getBoundingClientRect();
  if (at.clientX < box.left || at.clientX > box.right || at.clientY < box.top || at.clientY > box.bottom) {
    return undefined;
  }
  const [x, y] = pictureCoordinates(stage, at);
  return [...stage.areas].reverse().find((a) => inside(a.shape, a.coords, x, y));
}

/**
 * Put the picture in a box with a marker over each area and room for lines.
 * @param {HTMLElement} el
 * @param {InteractionDescription} description
 * @param {Array<{identifier: string, label?: string, shape?: string | null, coords?: number[]}>} areas
 * @returns {Stage | null}
 */
export function stageFor(el, description, areas) {
  const img = el.querySelector(".waa-graphic img");
  if (!(img instanceof HTMLImageElement)) return null;
  const box = document.createElement("div");
  box.className = "waa-area-stage";
  img.replaceWith(box);
  img.draggable = false;
  box.append(img);
  const width = Number(description.graphic?.width) || Number(img.getAttribute("width")) || img.naturalWidth || 100;
  const height = Number(description.graphic?.height) || Number(img.getAttribute("height")) || img.naturalHeight || 100;
  const lines = document.createElementNS(SVG, "svg");
  lines.setAttribute("class", "waa-area-lines");
  lines.setAttribute("viewBox", `0 0 ${width} ${height}`);
  lines.setAttribute("preserveAspectRatio", "none");
  lines.setAttribute("aria-hidden", "true");
  box.append(lines);
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  box.after(status);
  /** @type {Stage} */
  const stage = { el, img, box, lines, areas: [], width, height, status };
  for (const area of areas) {
    const mark = document.createElement("span");
    mark.className = "waa-area-mark";
    mark.setAttribute("aria-hidden", "true");
    mark.dataset.area = area.identifier;
    const [cx, cy] = centre(area.shape ?? undefined, area.coords ?? []);
    // Positioned through the CSS object model, which the style-src policy allows.
    mark.style.left = `${(cx / width) * 100}%`;
    mark.style.top = `${(cy / height) * 100}%`;
    box.append(mark);
    stage.areas.push({
      identifier: area.identifier,
      label: area.label ?? area.identifier,
      shape: area.shape ?? undefined,
      coords: area.coords ?? [],
      mark,
    });
  }
  return stage;
}

/**
 * @param {HTMLSelectElement} select
 * @param {string} value
 */
export function setSelect(select, value) {
  select.value = value;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

/**
 * A hint above the picture, saying how to answer with the pointer and the keyboard.
 * @param {Stage} stage
 * @param {string} text
 */
export function hint(stage, text) {
  const p = document.createElement("p");
  p.className = "waa-dnd-hint";
  p.textContent = text;
  (stage.box.parentElement ?? stage.box).before(p);
}
