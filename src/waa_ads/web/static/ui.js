// @ts-check
// The page around the screens: which screen is shown, focus, announcements to screen
// readers, and the header: who and what (organization, test, candidate), the save state
// (with the offline banner).

import { $, state } from "./store.js";

/** @typedef {import("./types.js").AttemptView} AttemptView */
/** @typedef {import("./types.js").SaveState} SaveState */

/** @typedef {"screen-access" | "screen-test" | "screen-review" | "screen-pause" | "screen-done"} ScreenId */

const PRODUCT = "WAA-ADS";

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
  const test = state.view?.title;
  const signedIn = id !== "screen-access";
  document.title = `${title} – ${signedIn && test ? test : brandName()}`;
  const inTest = id === "screen-test" || id === "screen-review" || id === "screen-pause";
  $("timer").hidden = !inTest || state.deadline === null;
  $("test-title").hidden = !signedIn || !test;
  $("candidate-name").hidden = !signedIn || !state.view?.candidate_name;
  // Before sign-in nothing is being saved (answers kept on this device wait for it).
  $("save-state").hidden = !signedIn;
}

/** The organization's name when the attempt's reply gives it, else the product's. */
function brandName() {
  return state.view?.organization_name || PRODUCT;
}

/**
 * The header's names: the organization (and its logo) when the reply has them, the test's
 * title and the candidate's name. The server does not send the organization, its logo or
 * the candidate's name yet; each is shown as soon as it does (docs/player.md).
 * @param {AttemptView} view
 */
export function renderHeader(view) {
  $("org-name").textContent = brandName();
  document.getElementById("org-logo")?.remove();
  const logoUrl = view.organization_logo_url;
  // Same origin only: the page's policy allows no other (a signed media URL, like items').
  if (logoUrl && logoUrl.startsWith("/") && !logoUrl.startsWith("//")) {
    const logo = document.createElement("img");
    logo.id = "org-logo";
    logo.className = "org-logo";
    logo.alt = ""; // the organization's name is written beside it
    logo.src = logoUrl;
    $("brand").prepend(logo);
  }
  $("test-title").textContent = view.title || "Test";
  const name = $("candidate-name");
  name.replaceChildren();
  if (view.candidate_name) {
    const said = document.createElement("span");
    said.className = "visually-hidden";
    said.textContent = "Candidate: ";
    name.append(said, view.candidate_name);
  }
}

/** @param {string} id */
export function focusHeading(id) {
  document.getElementById(id)?.focus();
}

/** @param {string} message  shown under the item heading ("" clears it) */
export function itemMessage(message) {
  $("item-error").textContent = message;
}

/** @param {number} n */
const answers = (n) => `${n} answer${n === 1 ? "" : "s"}`;

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
    text.textContent = pending ? `Offline — ${answers(pending)} waiting` : "Offline";
    banner.hidden = false;
    banner.textContent = pending
      ? `You are offline. ${answers(pending)} ${pending === 1 ? "is" : "are"} kept on this device and will be saved when the connection is back. You can keep working.`
      : "You are offline. You can keep working; your answers will be saved when the connection is back.";
  } else {
    banner.hidden = true;
    text.textContent = saving || pending ? "Saving…" : "Saved";
  }
}
