// @ts-check
// Integrity events: focus lost/regained, copy, paste, cut, context menu, visibility,
// fullscreen, print and network lost/restored, recorded while the test screen is shown
// and sent in batches (`POST .../events`: at most 3 s or 20 events apart, kept and retried
// while the network is away, sent when the page is hidden).

import { postEvents } from "./api.js";
import { $, state } from "./store.js";

/**
 * @typedef {object} BrowserEvent
 * @property {string} kind  one of the server's EVENT_KINDS
 * @property {string} client_time
 * @property {Record<string, unknown>} data
 */

/** Browser integrity events, sent in batches (and kept while the network is away). */
export class EventBatcher {
  /** @param {string} attemptId */
  constructor(attemptId) {
    this.attemptId = attemptId;
    /** @type {BrowserEvent[]} */
    this.events = [];
    /** @type {number | null} */
    this.timer = null;
    this.sending = false;
  }

  /**
   * @param {string} kind
   * @param {Record<string, unknown>} [data]
   */
  record(kind, data = {}) {
    this.events.push({ kind, client_time: new Date().toISOString(), data });
    if (this.events.length >= 20) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), 3000);
  }

  async flush() {
    clearTimeout(this.timer ?? undefined);
    this.timer = null;
    if (this.sending || this.events.length === 0) return;
    const batch = this.events.splice(0, 50);
    this.sending = true;
    try {
      const response = await postEvents(this.attemptId, batch);
      if (response.status >= 500 || response.status === 429) throw new Error("retry");
    } catch {
      this.events.unshift(...batch);
      this.timer = setTimeout(() => this.flush(), 10000);
    } finally {
      this.sending = false;
    }
  }
}

/**
 * Record an event, only while a signed-in test is on screen.
 * @param {string} kind
 */
function record(kind) {
  if (state.events && state.session && !state.ended && !$("screen-test").hidden) state.events.record(kind);
}

/** Listen for the browser events that are recorded (once, at start). */
export function watchIntegrity() {
  window.addEventListener("blur", () => record("focus_lost"));
  window.addEventListener("focus", () => record("focus_regained"));
  for (const kind of ["copy", "paste", "cut"]) document.addEventListener(kind, () => record(kind));
  document.addEventListener("contextmenu", () => record("context_menu"));
  document.addEventListener("visibilitychange", () => {
    record(document.hidden ? "visibility_hidden" : "visibility_visible");
    if (document.hidden) state.events?.flush();
  });
  document.addEventListener("fullscreenchange", () => {
    record(document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit");
  });
  window.addEventListener("beforeprint", () => record("print_attempt"));
  window.addEventListener("offline", () => record("network_lost"));
  window.addEventListener("online", () => record("network_restored"));
}
