// @ts-check
// The page around the screens: which screen is shown, focus, announcements to screen
// readers, and the save state in the header (with the offline banner).

import { $, state } from "./store.js";

/** @typedef {import("./types.js").SaveState} SaveState */

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
 * @param {"screen-access" | "screen-test" | "screen-review" | "screen-done"} id
 * @param {string} title
 */
export function showScreen(id, title) {
  for (const screen of document.querySelectorAll(".screen")) {
    if (screen instanceof HTMLElement) screen.hidden = screen.id !== id;
  }
  document.title = `${title} – WAA-ADS`;
  const inTest = id === "screen-test" || id === "screen-review";
  $("timer").hidden = !inTest || state.deadline === null;
  $("test-title").hidden = !inTest;
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
