// @ts-check
// The page around the screens: which screen is shown, focus, announcements to screen
// readers, and the header: who and what (organization, test, candidate), the save state
// (with the offline banner).

import { formatNumber, nt, t } from "./i18n.js";
import { $, state } from "./store.js";

/** @typedef {import("./types.js").SaveState} SaveState */

/** @typedef {"screen-access" | "screen-welcome" | "screen-test" | "screen-review" | "screen-pause" | "screen-done"} ScreenId */

/**
 * Who and what the header names: from the code's lookup (kept in the session for the
 * test, since the attempt's reply does not carry the names) and the test's title.
 * @typedef {object} HeaderNames
 * @property {string | null} organization
 * @property {string | null} candidate
 * @property {string | null} logo  a same-origin picture
 * @property {string | null} [style]  a same-origin stylesheet with the brand colour
 * @property {string | null} title
 */

const PRODUCT = "WAA-ADS";

/** @type {HeaderNames | null} */
let names = null;

/**
 * Say something through the assertive live region.
 * @param {string} message
 */
export function announce(message) {
  const region = $("announcer");
  region.textContent = "";
  // A fresh text node in the next frame makes screen readers read it even if it repeats.
  requestAnimationFrame(() => { region.textContent = message; });
}

/**
 * Show one screen (a `section.screen` of player.html) and name the page after it.
 * @param {ScreenId} id
 * @param {string} title
 */
export function showScreen(id, title) {
  for (const screen of document.querySelectorAll(".screen")) {
    if (screen instanceof HTMLElement) screen.hidden = screen.id !== id;
  }
  const test = names?.title;
  const known = id !== "screen-access";
  document.title = `${title} – ${known && test ? test : brandName()}`;
  const inTest = id === "screen-test" || id === "screen-review" || id === "screen-pause";
  $("timer").hidden = !inTest || state.deadline === null;
  if (!inTest) $("attempt-language").hidden = true;
  $("test-title").hidden = !known || !test || id === "screen-welcome";
  $("candidate-name").hidden = !known || !names?.candidate;
  // Before the test starts nothing is being saved (answers kept on this device wait for it).
  $("save-state").hidden = !known || id === "screen-welcome";
}

/** The organization's name when the lookup gave it, else the product's. */
function brandName() {
  return names?.organization || PRODUCT;
}

/**
 * The header's names: the organization (and its logo when there is one), the test's title
 * and the candidate's name; `null` before a code is entered (the product's name only).
 * @param {HeaderNames | null} given
 */
export function renderHeader(given) {
  names = given;
  $("org-name").textContent = brandName();
  document.getElementById("org-logo")?.remove();
  const logoUrl = given?.logo;
  // Same origin only: the page's policy allows no other (a signed media URL, like items').
  if (logoUrl && logoUrl.startsWith("/") && !logoUrl.startsWith("//")) {
    const logo = document.createElement("img");
    logo.id = "org-logo";
    logo.className = "org-logo";
    logo.alt = ""; // the organization's name is written beside it
    logo.src = logoUrl;
    $("brand").prepend(logo);
  }
  applyStyle(given?.style ?? null);
  $("test-title").textContent = given?.title || t("Test");
  const name = $("candidate-name");
  name.replaceChildren();
  if (given?.candidate) {
    const said = document.createElement("span");
    said.className = "visually-hidden";
    const word = t("Candidate:");
    said.textContent = `${word} `;
    name.append(said, given.candidate);
  }
}

/**
 * The organization's stylesheet (its brand colour as the header's custom properties), as a
 * same-origin `<link>`: the page's policy allows no inline style.
 * @param {string | null} url
 */
function applyStyle(url) {
  const current = document.getElementById("org-style");
  const wanted = url && url.startsWith("/") && !url.startsWith("//") ? url : null;
  if (current instanceof HTMLLinkElement && current.getAttribute("href") === wanted) return;
  current?.remove();
  if (!wanted) return;
  const link = document.createElement("link");
  link.id = "org-style";
  link.rel = "stylesheet";
  link.href = wanted;
  document.head.append(link);
}

/** @param {string} id */
export function focusHeading(id) {
  document.getElementById(id)?.focus();
}

/** @param {string} message  shown under the item heading ("" clears it) */
export function itemMessage(message) {
  $("item-error").textContent = message;
}

/**
 * The header's save state and, while offline, the banner.
 * @param {SaveState} saveState
 */
export function renderSaveState({ pending, saving, offline }) {
  const text = $("save-state");
  const banner = $("offline-banner");
  const kind = offline ? "offline" : saving || pending ? "saving" : "saved";
  text.className = `save-state ${kind}`;
  if (offline) {
    const count = formatNumber(pending);
    text.textContent = pending
      ? nt("Offline — {count} answer waiting", "Offline — {count} answers waiting", pending, { count })
      : t("Offline");
    banner.hidden = false;
    banner.textContent = pending
      ? nt(
        "You are offline. {count} answer is kept on this device and will be saved when the connection is back. You can keep working.",
        "You are offline. {count} answers are kept on this device and will be saved when the connection is back. You can keep working.",
        pending, { count })
      : t("You are offline. You can keep working; your answers will be saved when the connection is back.");
  } else {
    banner.hidden = true;
    text.textContent = saving || pending ? t("Saving…") : t("Saved");
  }
}
