// @ts-check
/**
 * The scoring form's enhancements (the form works without them):
 *
 * - Keyboard shortcuts: digits 1-9 choose that level of the criterion the focus is in (or
 *   the first criterion without a level); "[" and "]" move between criteria; Ctrl+Enter
 *   saves and takes the next response. Never while typing in a text box.
 * - The lease timer: the time left on the lease, counted down, said aloud once when a
 *   minute is left.
 *
 * Its words are looked up in the page's catalogue (the console's, in the page).
 */

import { t } from "/static/player/i18n.js";

/** @param {EventTarget | null} target */
function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !["radio", "checkbox", "button", "submit"].includes(target.type);
  }
  return false;
}

/** @param {HTMLFormElement} form */
function criteria(form) {
  return /** @type {HTMLFieldSetElement[]} */ (
    Array.from(form.querySelectorAll("fieldset[data-criterion]"))
  );
}

/**
 * @param {HTMLFormElement} form
 * @returns {HTMLFieldSetElement | undefined}
 */
function current(form) {
  const all = criteria(form);
  const active = document.activeElement;
  const inside = all.find((f) => active instanceof Node && f.contains(active));
  if (inside) return inside;
  return all.find((f) => !f.querySelector("input:checked")) ?? all[0];
}

/** @param {HTMLFieldSetElement} fieldset */
function focusCriterion(fieldset) {
  const radio = /** @type {HTMLInputElement | null} */ (
    fieldset.querySelector("input:checked") ?? fieldset.querySelector("input[type=radio]")
  );
  radio?.focus();
  fieldset.scrollIntoView({ block: "nearest" });
}

/** @param {HTMLFormElement} form */
function shortcuts(form) {
  form.addEventListener("focusin", () => {
    for (const f of criteria(form)) f.classList.remove("current");
    const here = current(form);
    if (here && document.activeElement && here.contains(document.activeElement)) {
      here.classList.add("current");
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { // i18n: not shown
      event.preventDefault();
      const next = /** @type {HTMLButtonElement | null} */ (
        form.querySelector("button[value=next]")
      );
      form.requestSubmit(next ?? undefined);
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    const all = criteria(form);
    const here = current(form);
    if (!here) return;
    if (/^[1-9]$/.test(event.key)) {
      const radios = /** @type {HTMLInputElement[]} */ (
        Array.from(here.querySelectorAll("input[type=radio]"))
      );
      const chosen = radios[Number(event.key) - 1];
      if (!chosen) return;
      event.preventDefault();
      chosen.checked = true;
      chosen.focus();
      chosen.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (event.key === "]" || event.key === "[") {
      event.preventDefault();
      const step = event.key === "]" ? 1 : -1;
      const index = all.indexOf(here) + step;
      const target = all[Math.max(0, Math.min(all.length - 1, index))];
      if (target) focusCriterion(target);
    }
  });
}

/** @param {number} seconds */
function spoken(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m > 0
    ? t("{minutes} min {seconds} s", { minutes: m, seconds: String(s).padStart(2, "0") })
    : t("{seconds} s", { seconds: s });
}

function timer() {
  const time = document.querySelector("[data-lease-expires]");
  const left = document.querySelector("[data-lease-left]");
  const box = document.querySelector(".lease-timer");
  if (!time || !left || !box) return;
  const ends = Date.parse(time.getAttribute("data-lease-expires") ?? "");
  if (Number.isNaN(ends)) return;
  let warned = false;
  const tick = () => {
    const seconds = Math.max(0, Math.round((ends - Date.now()) / 1000));
    left.textContent =
      " " + (seconds > 0 ? t("({time} left)", { time: spoken(seconds) }) : t("(the lease has run out)"));
    if (seconds <= 60) box.classList.add("lease-low");
    if (seconds <= 60 && !warned) {
      warned = true;
      left.setAttribute("aria-live", "polite");
    }
    if (seconds === 0) window.clearInterval(handle);
  };
  const handle = window.setInterval(tick, 1000);
  tick();
}

const form = /** @type {HTMLFormElement | null} */ (document.querySelector("form[data-rating-form]"));
if (form) shortcuts(form);
timer();
