// @ts-check
// Interactions on the areas of a picture: graphic order, graphic associate and graphic gap
// match. The server renders one labelled select per area (its position, or the label put
// on it) or per pair, which stay the keyboard and screen-reader way to answer and the
// record the response is read from (interaction-pairs.js). This adds the picture's way:
// a marker over each area shows what the selects hold, and with a pointer (mouse, pen or
// touch, through pointer events)
// - graphic order: clicking an area gives it the next position; clicking it again takes
//   it out (the positions after it move up);
// - graphic associate: dragging from one area to another (or clicking one, then the
//   other) joins them into the first empty pair; a line shows each pair;
// - graphic gap match: a label is dragged from the list onto its area on the picture.
// Every change goes through the selects and their usual change event, so reading and
// saving work as for any select.

import { formatNumber, t } from "./i18n.js";
import { selects } from "./interaction-controls.js";
import { dragOntoAreas, showPlaced } from "./area-labels.js";
import { associateByPointer, showPairs } from "./area-pairs.js";
import { areaAt, hint, setSelect, stageFor } from "./area-stage.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./area-stage.js").Area} Area */
/** @typedef {import("./area-stage.js").Stage} Stage */

// --- graphic order ---------------------------------------------------------------------------

/**
 * @param {Stage} stage
 */
function showOrder(stage) {
  for (const area of stage.areas) {
    const select = selects(stage.el, `select[data-choice="${CSS.escape(area.identifier)}"]`)[0];
    const position = select?.value ?? "";
    area.mark.textContent = position === "" ? "" : formatNumber(Number(position));
    area.mark.classList.toggle("set", position !== "");
  }
}

/**
 * A click on an area gives it the next position, or takes its position away.
 * @param {Stage} stage
 * @param {Area} area
 */
function clickOrder(stage, area) {
  const all = selects(stage.el, "select[data-choice]");
  const select = all.find((s) => s.dataset.choice === area.identifier);
  if (!select) return;
  const positions = select.options.length - 1;
  if (select.value !== "") {
    const taken = Number(select.value);
    for (const other of all) {
      if (other !== select && other.value !== "" && Number(other.value) > taken) other.value = String(Number(other.value) - 1);
    }
    setSelect(select, "");
    stage.status.textContent = t("{area} taken out of the order.", { area: area.label });
    return;
  }
  const used = all.map((s) => Number(s.value)).filter((n) => n > 0);
  const next = used.length ? Math.max(...used) + 1 : 1;
  if (next > positions) {
    stage.status.textContent = t("All {count} positions are given. Click an area to take it out first.", { count: formatNumber(positions) });
    return;
  }
  setSelect(select, String(next));
  stage.status.textContent = t("{area} is number {number}.", { area: area.label, number: formatNumber(next) });
}

// --- wiring ----------------------------------------------------------------------------------

/**
 * Add the picture's way of answering to a graphic order, associate or gap match interaction.
 * @param {HTMLElement} el  the interaction's fieldset
 * @param {InteractionDescription} description
 */
export function pictureAreas(el, description) {
  const areas = description.type === "graphic_gap_match" ? description.hotspots ?? [] : description.options ?? [];
  const stage = stageFor(el, description, areas);
  if (!stage) return;
  if (description.type === "graphic_order") {
    hint(stage, t("Click the places on the picture in order (click one again to take it out), or give each its number in the list below."));
    stage.box.addEventListener("click", (event) => {
      const area = areaAt(stage, event);
      if (area) clickOrder(stage, area);
    });
    el.addEventListener("change", () => showOrder(stage));
    showOrder(stage);
  } else if (description.type === "graphic_associate") {
    hint(stage, t("Drag from one place on the picture to another to join them (or click one, then the other), or choose the pairs in the lists below."));
    associateByPointer(stage);
    el.addEventListener("change", () => showPairs(stage));
    showPairs(stage);
  } else {
    const chips = /** @type {HTMLElement[]} */ (Array.from(el.querySelectorAll("ul > li[data-choice]")));
    chips[0]?.parentElement?.classList.add("waa-chips");
    const labels = new Map((description.options ?? []).map((o) => [o.identifier, o.label ?? o.identifier]));
    hint(stage, t("Drag each label onto its place on the picture, or choose it in the place's list below."));
    dragOntoAreas(stage, description, chips);
    el.addEventListener("change", () => showPlaced(stage, labels, chips));
    showPlaced(stage, labels, chips);
  }
}
