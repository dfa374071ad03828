// @ts-check
// Graphic gap match on the picture: a label (gap image or text) is dragged from its list
// onto its area of the picture, or onto the area's select, with pointer events; a label
// that may be used once leaves the area it was on.

import { t } from "./i18n.js";

import { selects } from "./interaction-controls.js";
import { THRESHOLD, areaAt, setSelect } from "./area-stage.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./area-stage.js").Area} Area */
/** @typedef {import("./area-stage.js").Stage} Stage */

/**
 * @param {Stage} stage
 * @param {Map<string, string>} labels  option identifier -> its label
 * @param {HTMLElement[]} chips
 */
export function showPlaced(stage, labels, chips) {
  const placed = new Set();
  for (const area of stage.areas) {
    const select = selects(stage.el, `select[data-gap="${CSS.escape(area.identifier)}"]`)[0];
    const value = select?.value ?? "";
    if (value) placed.add(value);
    area.mark.textContent = value ? labels.get(value) ?? value : "";
    area.mark.classList.toggle("set", value !== "");
  }
  for (const chip of chips) chip.classList.toggle("placed", placed.has(chip.dataset.choice ?? ""));
}

/**
 * Put option `choice` on an area (taking it off another area when it may be used once).
 * @param {Stage} stage
 * @param {InteractionDescription} description
 * @param {Area} area
 * @param {string} choice
 */
function place(stage, description, area, choice) {
  const option = description.options?.find((o) => o.identifier === choice);
  const target = selects(stage.el, `select[data-gap="${CSS.escape(area.identifier)}"]`)[0];
  if (!target) return;
  if (option?.match_max === 1) {
    for (const other of selects(stage.el, "select[data-gap]")) {
      if (other !== target && other.value === choice) other.value = "";
    }
  }
  setSelect(target, choice);
  stage.status.textContent = t("{label} put on {area}.", { label: option?.label ?? choice, area: area.label });
}

/**
 * Let the options be dragged onto the areas of the picture (or onto an area's select).
 * @param {Stage} stage
 * @param {InteractionDescription} description
 * @param {HTMLElement[]} chips
 */
export function dragOntoAreas(stage, description, chips) {
  for (const chip of chips) {
    chip.classList.add("waa-chip");
    chip.addEventListener("pointerdown", (down) => {
      if (down.button !== 0 || !down.isPrimary) return;
      down.preventDefault();
      chip.setPointerCapture(down.pointerId);
      const choice = chip.dataset.choice ?? "";
      /** @type {HTMLElement | null} */
      let ghost = null;
      /** @type {Area | undefined} */
      let over;
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
          stage.el.classList.add("waa-dragging");
        }
        ghost.style.left = `${move.clientX}px`;
        ghost.style.top = `${move.clientY}px`;
        const area = areaAt(stage, move) ?? areaOfSelectAt(stage, move);
        if (area !== over) {
          over?.mark.classList.remove("drop-over");
          area?.mark.classList.add("drop-over");
          over = area;
        }
      };
      /** @param {PointerEvent} end */
      const onEnd = (end) => {
        chip.removeEventListener("pointermove", onMove);
        chip.removeEventListener("pointerup", onEnd);
        chip.removeEventListener("pointercancel", onEnd);
        over?.mark.classList.remove("drop-over");
        chip.classList.remove("dragging");
        stage.el.classList.remove("waa-dragging");
        ghost?.remove();
        if (ghost && over && end.type === "pointerup") place(stage, description, over, choice);
      };
      chip.addEventListener("pointermove", onMove);
      chip.addEventListener("pointerup", onEnd);
      chip.addEventListener("pointercancel", onEnd);
    });
  }
}

/**
 * The area whose select is under a pointer (a drop on the list of areas).
 * @param {Stage} stage
 * @param {{clientX: number, clientY: number}} at
 */
function areaOfSelectAt(stage, at) {
  const under = document.elementFromPoint(at.clientX, at.clientY)?.closest(".waa-gap-area");
  const select = under?.querySelector("select[data-gap]");
  if (!(select instanceof HTMLSelectElement) || !stage.el.contains(select)) return undefined;
  return stage.areas.find((a) => a.identifier === select.dataset.gap);
}
