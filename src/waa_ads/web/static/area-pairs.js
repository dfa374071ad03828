// @ts-check
// Graphic associate on the picture: dragging from one area to another (or clicking one,
// then the other) joins them in the first empty pair of selects; a line shows each pair.

import { t } from "./i18n.js";

import { selects } from "./interaction-controls.js";
import { SVG, THRESHOLD, areaAt, centre, pictureCoordinates, setSelect } from "./area-stage.js";

/** @typedef {import("./area-stage.js").Area} Area */
/** @typedef {import("./area-stage.js").Stage} Stage */

/**
 * @param {HTMLElement} el
 * @returns {HTMLSelectElement[][]} the pairs of selects, in order
 */
function pairRows(el) {
  /** @type {Map<string, HTMLSelectElement[]>} */
  const rows = new Map();
  for (const select of selects(el)) rows.set(select.name, [...(rows.get(select.name) ?? []), select]);
  return Array.from(rows.values());
}

/**
 * @param {Stage} stage
 */
export function showPairs(stage) {
  stage.lines.replaceChildren();
  const byId = new Map(stage.areas.map((a) => [a.identifier, a]));
  const counts = new Map();
  for (const [first, second] of pairRows(stage.el)) {
    const a = byId.get(first?.value ?? "");
    const b = byId.get(second?.value ?? "");
    if (!a || !b || a === b) continue;
    counts.set(a, (counts.get(a) ?? 0) + 1);
    counts.set(b, (counts.get(b) ?? 0) + 1);
    const [x1, y1] = centre(a.shape, a.coords);
    const [x2, y2] = centre(b.shape, b.coords);
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", String(x1));
    line.setAttribute("y1", String(y1));
    line.setAttribute("x2", String(x2));
    line.setAttribute("y2", String(y2));
    stage.lines.append(line);
  }
  for (const area of stage.areas) area.mark.classList.toggle("set", counts.has(area));
}

/**
 * Join two areas in the first pair of selects that is empty.
 * @param {Stage} stage
 * @param {Area} a
 * @param {Area} b
 */
function join(stage, a, b) {
  if (a === b) return;
  const rows = pairRows(stage.el);
  const joined = rows.some(([s, e]) => (s.value === a.identifier && e.value === b.identifier)
    || (s.value === b.identifier && e.value === a.identifier));
  if (joined) {
    stage.status.textContent = t("{first} and {second} are joined already.", { first: a.label, second: b.label });
    return;
  }
  const free = rows.find(([s, e]) => s.value === "" && e.value === "");
  if (!free) {
    stage.status.textContent = t("Every pair is used. Empty a pair below to join other areas.");
    return;
  }
  free[0].value = a.identifier;
  setSelect(free[1], b.identifier);
  stage.status.textContent = t("{first} joined to {second}.", { first: a.label, second: b.label });
}

/**
 * Dragging from one area to another joins them; clicking one, then another, too.
 * @param {Stage} stage
 */
export function associateByPointer(stage) {
  /** @type {Area | null} */
  let picked = null;
  const pick = (/** @type {Area | null} */ area) => {
    picked?.mark.classList.remove("picked");
    picked = area;
    picked?.mark.classList.add("picked");
  };
  stage.box.addEventListener("pointerdown", (down) => {
    if (down.button !== 0 || !down.isPrimary) return;
    const from = areaAt(stage, down);
    if (!from) return;
    down.preventDefault();
    stage.box.setPointerCapture(down.pointerId);
    /** @type {SVGLineElement | null} */
    let rubber = null;
    const [x1, y1] = centre(from.shape, from.coords);
    /** @param {PointerEvent} move */
    const onMove = (move) => {
      if (!rubber) {
        if (Math.hypot(move.clientX - down.clientX, move.clientY - down.clientY) < THRESHOLD) return;
        rubber = document.createElementNS(SVG, "line");
        rubber.setAttribute("class", "rubber");
        rubber.setAttribute("x1", String(x1));
        rubber.setAttribute("y1", String(y1));
        stage.lines.append(rubber);
      }
      const [x2, y2] = pictureCoordinates(stage, move);
      rubber.setAttribute("x2", String(x2));
      rubber.setAttribute("y2", String(y2));
    };
    /** @param {PointerEvent} end */
    const onEnd = (end) => {
      stage.box.removeEventListener("pointermove", onMove);
      stage.box.removeEventListener("pointerup", onEnd);
      stage.box.removeEventListener("pointercancel", onEnd);
      rubber?.remove();
      if (end.type !== "pointerup") return;
      if (rubber) {
        const to = areaAt(stage, end);
        pick(null);
        if (to && to !== from) join(stage, from, to);
        return;
      }
      // a click: the first area is picked, the second joins them
      if (picked && picked !== from) {
        const first = picked;
        pick(null);
        join(stage, first, from);
      } else {
        pick(picked === from ? null : from);
        if (picked) stage.status.textContent = t("{area} picked. Click the area to join it to.", { area: from.label });
      }
    };
    stage.box.addEventListener("pointermove", onMove);
    stage.box.addEventListener("pointerup", onEnd);
    stage.box.addEventListener("pointercancel", onEnd);
  });
}
