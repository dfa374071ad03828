// @ts-check
// The clock. The server owns the time: its `remaining_s` sets a local deadline, counted
// down every second and re-synced on every read of the attempt. Warnings at 5 and 1
// minutes are announced; at zero `onTimeUp` runs (attempt.js decides what happens).
// Every interval and timeout of the test is kept in `state.timers`, so one call stops them.

import { t } from "./i18n.js";
import { $, state } from "./store.js";
import { announce } from "./ui.js";

/** @typedef {import("./types.js").AttemptView} AttemptView */

/** @type {{onTimeUp: () => void, onResync: () => void}} */
const hooks = { onTimeUp: () => {}, onResync: () => {} };

/**
 * What to do when the time runs out, and how to re-read the attempt (every minute).
 * @param {{onTimeUp: () => void, onResync: () => void}} given
 */
export function setClockHooks(given) {
  Object.assign(hooks, given);
}

/** @param {number} seconds */
export function formatTime(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** Whole seconds left, or `null` when the test has no time limit. */
export function remainingSeconds() {
  if (state.deadline === null) return null;
  return Math.max(0, Math.ceil((state.deadline - performance.now()) / 1000));
}

/** @type {Array<[number, string]>} */
const WARNINGS = [[300, t("5 minutes left.")], [60, t("1 minute left.")]];

/** Whether the clock is stopped: paused by a proctor, or on a break that does not count. */
export function clockStopped() {
  const attempt = state.view?.attempt;
  return !!attempt?.paused && attempt.pause_kind !== "break_counted";
}

/** When the clock was last shown (performance.now()), so a stopped clock can hold still. */
let shownAt = performance.now();

export function renderTimer() {
  const now = performance.now();
  // While the clock is stopped the deadline moves on with the time, so the time left holds.
  if (clockStopped() && state.deadline !== null) state.deadline += now - shownAt;
  shownAt = now;
  const left = remainingSeconds();
  const timer = $("timer");
  if (left === null) { timer.hidden = true; return; }
  const label = document.createElement("span");
  label.className = "timer-label";
  label.textContent = t("Time left");
  const value = document.createElement("span");
  value.className = "timer-value";
  value.dir = "ltr";
  value.dataset.stopped = t("stopped"); // shown after the time while the clock is stopped
  value.textContent = formatTime(left);
  timer.replaceChildren(label, " ", value);
  timer.classList.toggle("low", left <= 300);
  timer.classList.toggle("stopped", clockStopped());
  for (const [limit, message] of WARNINGS) {
    if (left <= limit && left > 0 && !state.warned.has(limit)) {
      state.warned.add(limit);
      announce(message);
    }
  }
  if (left === 0 && !state.ended && !state.view?.attempt.paused) hooks.onTimeUp();
}

/**
 * Set the deadline from the server's view of the attempt.
 * @param {Pick<AttemptView, "remaining_s">} view
 */
export function syncClock(view) {
  if (view.remaining_s === null || view.remaining_s === undefined) {
    state.deadline = null;
    return;
  }
  state.deadline = performance.now() + view.remaining_s * 1000;
  shownAt = performance.now();
  renderTimer();
}

/**
 * Run `task` once after `ms`, stopped with the other timers.
 * @param {() => unknown} task
 * @param {number} ms
 */
export function later(task, ms) {
  state.timers.push(setTimeout(task, ms));
}

export function startTimers() {
  stopTimers();
  state.timers.push(setInterval(renderTimer, 1000));
  state.timers.push(setInterval(() => hooks.onResync(), 60000));
}

export function stopTimers() {
  for (const t of state.timers) { clearInterval(t); clearTimeout(t); }
  state.timers = [];
}
