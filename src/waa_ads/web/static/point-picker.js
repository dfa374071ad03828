// @ts-check
// Select point on a picture, as a candidate expects it: a numbered marker where each point
// is, placed by clicking (or tapping) the picture, moved by dragging its marker or, from the
// keyboard, with the arrow keys on the point's handle below the picture (Shift moves ten
// times further). Points are told in words as shares of the picture ("42% across, 17%
// down"), never in pixels. The server's "x y" fields remain the record of the response
// (hidden, in the picture's own pixels): this writes them and sends the usual events, so
// reading and saving work as for any field (`input` while moving, `change` when done).

import { formatNumber, nt, t } from "./i18n.js";

/** @typedef {import("./types.js").Point} Point */

/**
 * @typedef {object} Picker
 * @property {HTMLInputElement[]} fields  the hidden "x y" fields, one per point
 * @property {HTMLElement[]} marks  the markers on the picture
 * @property {HTMLElement[]} handles  the keyboard handles (role slider)
 * @property {HTMLButtonElement[]} removers
 * @property {HTMLElement} status  a polite live region saying what changed
 * @property {number} width  the picture's own size, which points are measured in
 * @property {number} height
 */

/**
 * A point as written in its field, or `undefined` when the field is empty or unreadable.
 * @param {HTMLInputElement} field
 * @returns {Point | undefined}
 */
function pointOf(field) {
  const match = /^\s*(-?\d+)\s*[ ,;]\s*(-?\d+)\s*$/.exec(field.value);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * "42% across, 17% down" (the share of the picture's width and height).
 * @param {Picker} picker
 * @param {Point} point
 */
export function describePoint(picker, [x, y]) {
  const share = (/** @type {number} */ n) => formatNumber(n, { style: "percent", maximumFractionDigits: 0 });
  return t("{across} across, {down} down", { across: share(x / picker.width), down: share(y / picker.height) });
}

/**
 * Show point `n` (marker, handle) as its field holds it.
 * @param {Picker} picker
 * @param {number} n
 */
function render(picker, n) {
  const point = pointOf(picker.fields[n]);
  const mark = picker.marks[n];
  const handle = picker.handles[n];
  const label = t("Point {number}", { number: formatNumber(n + 1) });
  mark.hidden = !point;
  picker.removers[n].disabled = !point;
  if (!point) {
    handle.textContent = t("{point}: not placed", { point: label });
    handle.setAttribute("aria-valuetext", t("not placed; press an arrow key to place it in the middle"));
    handle.setAttribute("aria-valuenow", "0");
    return;
  }
  const words = describePoint(picker, point);
  // Positions are set through the CSS object model, which the style-src policy allows.
  mark.style.left = `${(point[0] / picker.width) * 100}%`;
  mark.style.top = `${(point[1] / picker.height) * 100}%`;
  handle.textContent = t("{point}: {place}", { point: label, place: words });
  handle.setAttribute("aria-valuetext", words);
  handle.setAttribute("aria-valuenow", String(Math.round((point[0] / picker.width) * 100)));
}

/**
 * Write point `n` (clamped to the picture) and say so.
 * @param {Picker} picker
 * @param {number} n
 * @param {Point | null} point  `null` removes it
 * @param {"input" | "change"} event  `input` while it moves (saved after a pause), `change` when done
 */
function setPoint(picker, n, point, event) {
  const field = picker.fields[n];
  if (point) {
    const x = Math.max(0, Math.min(picker.width, Math.round(point[0])));
    const y = Math.max(0, Math.min(picker.height, Math.round(point[1])));
    field.value = `${x} ${y}`;
  } else {
    field.value = "";
  }
  render(picker, n);
  field.dispatchEvent(new Event(event, { bubbles: true }));
  if (event === "change") {
    const placed = pointOf(field);
    picker.status.textContent = placed
      ? t("Point {number} set at {place}.", { number: formatNumber(n + 1), place: describePoint(picker, placed) })
      : t("Point {number} removed.", { number: formatNumber(n + 1) });
  }
}

/**
 * Where a pointer is on the picture, in the picture's own pixels.
 * @param {Picker} picker
 * @param {HTMLImageElement} img
 * @param {{clientX: number, clientY: number}} at
 * @returns {Point}
 */
function pictureCoordinates(picker, img, { clientX, clientY }) {
  const box = img.getBoundingClientRect();
  const left = box.left + img.clientLeft;
  const top = box.top + img.clientTop;
  const shownWidth = img.clientWidth || box.width;
  const shownHeight = img.clientHeight || box.height;
  return [((clientX - left) / shownWidth) * picker.width, ((clientY - top) / shownHeight) * picker.height];
}

/**
 * Which point a click on the picture sets: the first not yet placed, else the nearest one.
 * @param {Picker} picker
 * @param {Point} at
 */
function pointFor(picker, [x, y]) {
  const empty = picker.fields.findIndex((f) => !pointOf(f));
  if (empty >= 0) return empty;
  let best = 0;
  let bestDistance = Infinity;
  picker.fields.forEach((field, n) => {
    const [px, py] = pointOf(field) ?? [0, 0];
    const distance = (px - x) ** 2 + (py - y) ** 2;
    if (distance < bestDistance) { best = n; bestDistance = distance; }
  });
  return best;
}

/**
 * Arrow keys on a handle move its point by 1% of the picture (10% with Shift); the first
 * press places a point not yet placed in the middle. Delete or Backspace removes it.
 * @param {Picker} picker
 * @param {number} n
 * @param {KeyboardEvent} event
 */
function onKey(picker, n, event) {
  const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (event.key === "Delete" || event.key === "Backspace") { // i18n: not shown
    event.preventDefault();
    setPoint(picker, n, null, "change");
    return;
  }
  const step = steps[/** @type {keyof typeof steps} */ (event.key)];
  if (!step) return;
  event.preventDefault();
  const current = pointOf(picker.fields[n]);
  const share = event.shiftKey ? 0.1 : 0.01;
  const next = current
    ? /** @type {Point} */ ([current[0] + step[0] * share * picker.width, current[1] + step[1] * share * picker.height])
    : /** @type {Point} */ ([picker.width / 2, picker.height / 2]);
  // The handle's aria-valuetext says where it is now; the save follows a pause, as typing does.
  setPoint(picker, n, next, "input");
}

/**
 * Dragging a marker moves its point; it is saved when the pointer is released.
 * @param {Picker} picker
 * @param {HTMLImageElement} img
 * @param {number} n
 */
function draggable(picker, img, n) {
  const mark = picker.marks[n];
  mark.addEventListener("pointerdown", (down) => {
    if (down.button !== 0) return;
    down.preventDefault();
    mark.setPointerCapture(down.pointerId);
    mark.classList.add("dragging");
    /** @param {PointerEvent} move */
    const onMove = (move) => setPoint(picker, n, pictureCoordinates(picker, img, move), "input");
    const onEnd = () => {
      mark.removeEventListener("pointermove", onMove);
      mark.classList.remove("dragging");
      setPoint(picker, n, pointOf(picker.fields[n]) ?? null, "change");
    };
    mark.addEventListener("pointermove", onMove);
    mark.addEventListener("pointerup", onEnd, { once: true });
    mark.addEventListener("pointercancel", onEnd, { once: true });
  });
  // The click that ends a drag is not a click on the picture.
  mark.addEventListener("click", (event) => event.stopPropagation());
}

/**
 * Turn a select-point interaction into a picture with markers and keyboard handles.
 * @param {HTMLElement} el  the interaction's fieldset
 * @param {HTMLImageElement} img
 * @param {{width?: number, height?: number} | null | undefined} size  the picture's own size
 */
export function pointPicker(el, img, size) {
  const fields = /** @type {HTMLInputElement[]} */ (Array.from(el.querySelectorAll(".waa-point input[type=text]")));
  if (!fields.length) return;
  const stage = document.createElement("div");
  stage.className = "waa-point-stage";
  img.replaceWith(stage);
  img.draggable = false;
  stage.append(img);
  const hint = document.createElement("p");
  hint.className = "waa-point-hint";
  hint.id = `${el.id}-point-hint`;
  hint.textContent = nt(
    "Click the picture to place your point, then drag a marker to adjust it. With the keyboard: choose a point below and move it with the arrow keys; hold Shift for bigger steps.",
    "Click the picture to place up to {count} points, then drag a marker to adjust it. With the keyboard: choose a point below and move it with the arrow keys; hold Shift for bigger steps.",
    fields.length, { count: formatNumber(fields.length) });
  const list = document.createElement("div");
  list.className = "waa-point-list";
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  /** @type {Picker} */
  const picker = {
    fields, marks: [], handles: [], removers: [], status,
    width: size?.width || Number(img.getAttribute("width")) || img.naturalWidth || 100,
    height: size?.height || Number(img.getAttribute("height")) || img.naturalHeight || 100,
  };
  fields.forEach((field, n) => {
    const row = field.closest(".waa-point");
    if (row instanceof HTMLElement) row.hidden = true;
    const mark = document.createElement("span");
    mark.className = "waa-point-mark";
    mark.textContent = formatNumber(n + 1);
    mark.setAttribute("aria-hidden", "true");
    stage.append(mark);
    const item = document.createElement("div");
    item.className = "waa-point-item";
    const handle = document.createElement("span");
    handle.className = "waa-point-handle";
    handle.tabIndex = 0;
    handle.setAttribute("role", "slider");
    handle.setAttribute("aria-label", t("Point {number}", { number: formatNumber(n + 1) }));
    handle.setAttribute("aria-valuemin", "0");
    handle.setAttribute("aria-valuemax", "100");
    handle.setAttribute("aria-describedby", hint.id);
    handle.addEventListener("keydown", (event) => onKey(picker, n, event));
    handle.addEventListener("focus", () => mark.classList.add("active"));
    // Leaving the handle saves (the item's form commits on focus-out), like leaving a field.
    handle.addEventListener("blur", () => mark.classList.remove("active"));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "waa-point-remove";
    remove.textContent = t("Remove point {number}", { number: formatNumber(n + 1) });
    remove.addEventListener("click", () => { setPoint(picker, n, null, "change"); handle.focus(); });
    item.append(handle, remove);
    list.append(item);
    picker.marks.push(mark);
    picker.handles.push(handle);
    picker.removers.push(remove);
    draggable(picker, img, n);
    render(picker, n);
  });
  stage.addEventListener("click", (event) => {
    const at = pictureCoordinates(picker, img, event);
    setPoint(picker, pointFor(picker, at), at, "change");
  });
  const figure = stage.parentElement ?? el;
  figure.after(hint, list, status);
}
