// @ts-check
// End attempt: a button that ends the candidate's attempt at the question. Pressing it
// sets its response to `true` (QTI: the attempt was ended this way; no response is scored
// as `false`), saves at once, locks the question's other controls and moves on to the next
// question when there is one. The button says it was pressed (`aria-pressed`) whenever the
// question is shown again, and the question stays locked.

import { t } from "./i18n.js";

/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */

/**
 * Lock the other interactions of the question the button belongs to, and say so.
 * @param {HTMLElement} button
 */
function lockQuestion(button) {
  const form = button.closest("form");
  if (!form) return;
  for (const other of form.querySelectorAll("[data-interaction-type]")) {
    if (other !== button && other instanceof HTMLElement) other.inert = true;
  }
  if (!form.querySelector(".waa-ended-note")) {
    const note = document.createElement("p");
    note.className = "waa-ended-note";
    note.textContent = t("You ended this question: your answer is kept as it is.");
    button.insertAdjacentElement("afterend", note);
  }
}

/** @type {InteractionFamily} */
export const endAttempt = {
  types: ["end_attempt"],
  read(el) {
    return el.getAttribute("aria-pressed") === "true" ? true : null;
  },
  write(el, _description, value) {
    el.setAttribute("aria-pressed", value === true ? "true" : "false");
  },
  enhance(el, _description, { value }) {
    if (value === true) lockQuestion(el);
    el.addEventListener("click", () => {
      if (el.getAttribute("aria-pressed") === "true") return;
      el.setAttribute("aria-pressed", "true");
      el.dispatchEvent(new Event("change", { bubbles: true })); // saved at once
      lockQuestion(el);
      const next = document.getElementById("next-button");
      if (next instanceof HTMLButtonElement && !next.disabled && !next.hidden) next.click();
    });
  },
};
