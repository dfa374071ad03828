// @ts-check
// The player's state: the session, the last view of the attempt, the item shown, time
// spent per item and this tab's newest edits. Modules read and change `state` directly;
// `changed()` tells the subscribers (the question list) that an answer or a flag moved on.

/** @typedef {import("./types.js").Answer} Answer */
/** @typedef {import("./types.js").AttemptView} AttemptView */
/** @typedef {import("./types.js").Session} Session */
/** @typedef {import("./types.js").ViewItem} ViewItem */

const SESSION_KEY = "waa-player:session";

/**
 * @typedef {object} PlayerState
 * @property {Session | null} session
 * @property {AttemptView | null} view  the last GET of the attempt
 * @property {number} index  the item shown (in `view.items`)
 * @property {number} shownAt  performance.now() when it was shown
 * @property {Map<string, number>} spent  ref -> ms spent before the item was last shown
 * @property {Map<string, Answer>} local  ref -> the newest edit made here
 * @property {number | null} deadline  performance.now() at which the time runs out
 * @property {Set<number>} warned  the warnings (seconds left) already announced
 * @property {import("./sync.js").SaveQueue | null} queue
 * @property {import("./integrity.js").EventBatcher | null} events
 * @property {number[]} timers  every interval and timeout to stop when the test ends
 * @property {boolean} ended
 * @property {boolean} timeUp  the time ran out here and the server is asked until it ends
 */

/** @type {PlayerState} */
export const state = {
  session: null,
  view: null,
  index: 0,
  shownAt: 0,
  spent: new Map(),
  local: new Map(),
  deadline: null,
  warned: new Set(),
  queue: null,
  events: null,
  timers: [],
  ended: false,
  timeUp: false,
};

/**
 * The element of the page with this id, of the given kind (every id is in player.html).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {{new (): T, prototype: T}} [kind]
 * @returns {T}
 */
export function $(id, kind) {
  const element = document.getElementById(id);
  if (!element || (kind && !(element instanceof kind))) throw new Error(`the page has no #${id}`); // i18n: not shown
  return /** @type {T} */ (element);
}

// --- the session -------------------------------------------------------------------------

/** @returns {Session | null} */
export function readSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
  } catch {
    return null;
  }
}

/** @param {Session} session */
export function keepSession(session) {
  state.session = session;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
  state.session = null;
}

/** The signed-in session; only called where there is one. */
export function session() {
  if (!state.session) throw new Error("not signed in"); // i18n: not shown
  return state.session;
}

/** The attempt as last read; only called once it has been. */
export function view() {
  if (!state.view) throw new Error("the attempt is not loaded"); // i18n: not shown
  return state.view;
}

// --- the items ---------------------------------------------------------------------------

/** @returns {ViewItem | undefined} */
export function currentItem() {
  return state.view?.items[state.index];
}

/**
 * The response to show for an item: this browser's newest edit, else the server's.
 * @param {ViewItem} item
 * @returns {Answer}
 */
export function effective(item) {
  const local = state.local.get(item.ref);
  if (local) return local;
  const pending = state.queue?.pendingFor(item.ref);
  if (pending && pending.seq > (item.response?.seq ?? 0)) {
    return { value: pending.value, flagged: !!pending.flagged };
  }
  return { value: item.response?.value ?? null, flagged: !!item.response?.flagged };
}

/**
 * Milliseconds spent on an item, counting the time since it was shown.
 * @param {ViewItem} item
 */
export function timeSpent(item) {
  return Math.round((state.spent.get(item.ref) ?? 0) + (performance.now() - state.shownAt));
}

/** Book the time spent on the item shown, as the candidate moves away from it. */
export function leaveItem() {
  const item = currentItem();
  if (item) state.spent.set(item.ref, timeSpent(item));
}

// --- change notification -----------------------------------------------------------------

/** @type {Array<() => void>} */
const listeners = [];

/** @param {() => void} listener  called after every change of an answer, a flag or the item shown */
export function subscribe(listener) {
  listeners.push(listener);
}

export function changed() {
  for (const listener of listeners) listener();
}
