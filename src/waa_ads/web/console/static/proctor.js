// @ts-check
/**
 * The proctor's live view, kept live: a WebSocket to the console
 * (`/console/administrations/{id}/live/ws`) brings the administration's news as it happens
 * on any API process (docs/console.md, "Proctor live view").
 *
 * - A change of an attempt's state or time (started, paused, resumed, extended, submitted,
 *   expired, terminated) fetches that attempt's row again from the server and swaps it in
 *   (an open actions panel stays open, with what was typed in it, and keeps the focus).
 * - The question a candidate moves to, their activity and integrity events update the
 *   row in place; integrity events also go to the top of the log, and are announced
 *   politely, at most one announcement every few seconds (a summary when several came).
 * - The time left counts down every second from the server's figure of each live row.
 *
 * Without this script the page still shows everything as of its loading, and every form
 * works; reloading shows the changes.
 *
 * Its sentences come from the page's catalogue (the console's messages embedded in the
 * page), in the language the page is shown in.
 */

/** The player's catalogue module, served beside the player (the same origin and CSP). */
const I18N = "/static/player/i18n.js";
/** @type {typeof import("../../static/i18n.js")} */
const { t, pt, formatNumber } = await import(I18N);

/**
 * @typedef {object} LiveMessage
 * @property {string} event
 * @property {string} [at]
 * @property {string} [attempt_id]
 * @property {string} [state]
 * @property {number | null} [remaining_s]
 * @property {number} [current_position]
 * @property {string[]} [kinds]
 */

const ANNOUNCE_EVERY_MS = 4000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
/** Events after which the attempt's row is read again from the server. */
const STATE_EVENTS = new Set(["started", "paused", "resumed", "extended", "submitted", "expired", "terminated"]);

/** What a candidate did, after their name (the same words as the server's log). */
/** @type {Record<string, string>} */
const INTEGRITY_LABELS = {
  focus_lost: pt("integrity event", "left the test window"),
  focus_regained: pt("integrity event", "came back to the test window"),
  copy: pt("integrity event", "copied text"),
  paste: pt("integrity event", "pasted text"),
  cut: pt("integrity event", "cut text"),
  fullscreen_exit: pt("integrity event", "left full screen"),
  fullscreen_enter: pt("integrity event", "entered full screen"),
  network_lost: pt("integrity event", "lost the network"),
  network_restored: pt("integrity event", "is back online"),
  visibility_hidden: pt("integrity event", "hid the test tab"),
  visibility_visible: pt("integrity event", "showed the test tab again"),
  context_menu: pt("integrity event", "opened the context menu"),
  print_attempt: pt("integrity event", "tried to print"),
  devtools_suspected: pt("integrity event", "may have opened developer tools"),
};

const root = document.getElementById("proctor-live");

/** @param {number} seconds */
function clock(seconds) {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** @param {string | undefined} iso */
function timeOfDay(iso) {
  const when = iso ? new Date(iso) : new Date();
  return `${when.toISOString().slice(11, 19)} UTC`;
}

/** @param {string} id */
function rowOf(id) {
  const row = document.getElementById(`attempt-${id}`);
  return row instanceof HTMLTableRowElement ? row : null;
}

/** @param {HTMLTableRowElement} row */
function nameOf(row) {
  const cell = row.querySelector(".cell-candidate");
  const sub = cell?.querySelector(".sub")?.textContent ?? "";
  const name = (cell?.firstChild?.textContent ?? t("A candidate")).trim();
  return sub ? t("{name}, {attempt}", { name, attempt: sub }) : name;
}

// --- the time left, counted down locally from the server's figure -------------------------

/** attempt id -> [seconds left when told, performance.now() then] */
const told = new Map();

/** @param {HTMLTableRowElement} row */
function learnTime(row) {
  const id = row.dataset["attempt"];
  const remaining = row.dataset["remaining"];
  if (!id) return;
  if (remaining === undefined) told.delete(id);
  else told.set(id, [Number(remaining), performance.now()]);
}

function tick() {
  for (const [id, [seconds, at]] of told) {
    const row = rowOf(id);
    if (!row) { told.delete(id); continue; }
    const state = row.dataset["state"];
    if (state !== "in_progress" && state !== "paused") continue;
    // A proctor's pause or an uncounted break stops the clock; a counted break does not.
    const stopped = state === "paused" && row.dataset["pauseKind"] !== "break_counted";
    const left = stopped ? seconds : Math.round(seconds - (performance.now() - at) / 1000);
    const shown = row.querySelector(".time-left");
    if (shown) shown.textContent = clock(left);
  }
}

// --- rows ----------------------------------------------------------------------------------

/**
 * Read rows again from the server and swap them in: one attempt's (`id`), or all of them.
 * @param {string} [id]
 */
async function reloadRows(id) {
  if (!root) return;
  const url = `${root.dataset["liveUrl"]}/rows${id ? `/${id}` : ""}`;
  const reply = await fetch(url, { credentials: "same-origin" });
  if (!reply.ok) return;
  const template = document.createElement("template");
  template.innerHTML = (await reply.text()).trim();
  for (const fresh of template.content.querySelectorAll("tr[data-attempt]")) {
    if (fresh instanceof HTMLTableRowElement) swapIn(fresh);
  }
}

/** @param {HTMLTableRowElement} fresh */
function swapIn(fresh) {
  const old = rowOf(fresh.dataset["attempt"] ?? "");
  if (old) {
    keepWhatWasTyped(old, fresh);
    old.replaceWith(fresh);
  } else {
    document.getElementById("no-attempts")?.remove();
    document.getElementById("live-rows")?.append(fresh);
  }
  learnTime(fresh);
  restoreFocus(fresh);
}

/** @type {string | null} */
let focusedId = null;

/**
 * An open actions panel stays open in the new row, with what was typed in it.
 * @param {HTMLTableRowElement} old
 * @param {HTMLTableRowElement} fresh
 */
function keepWhatWasTyped(old, fresh) {
  const wasOpen = old.querySelector("details")?.open ?? false;
  const details = fresh.querySelector("details");
  if (details && wasOpen) details.open = true;
  for (const input of old.querySelectorAll("input[id]")) {
    if (!(input instanceof HTMLInputElement) || input.type === "hidden") continue;
    const twin = fresh.querySelector(`#${CSS.escape(input.id)}`);
    if (twin instanceof HTMLInputElement && input.value) twin.value = input.value;
  }
  keepFieldErrors(old, fresh);
  const active = document.activeElement;
  focusedId = active && old.contains(active) && active.id ? active.id : null;
  if (active && old.contains(active) && !active.id && active.tagName === "SUMMARY") focusedId = "summary";
}

/**
 * A refusal shown next to a field (the server's answer to that form) outlives a row update:
 * the fresh row is read without the refused form, so its error moves across with the field's
 * invalid state.
 * @param {HTMLTableRowElement} old
 * @param {HTMLTableRowElement} fresh
 */
function keepFieldErrors(old, fresh) {
  for (const error of old.querySelectorAll(".field-error[id]")) {
    const field = error.closest(".field");
    const input = field?.querySelector("input[id]");
    if (!(input instanceof HTMLInputElement)) continue;
    const twin = fresh.querySelector(`#${CSS.escape(input.id)}`);
    const twinField = twin?.closest(".field");
    if (!(twin instanceof HTMLInputElement) || !twinField) continue;
    if (twinField.querySelector(".field-error")) continue;
    twinField.classList.add("field-invalid");
    twin.before(error.cloneNode(true));
    twin.setAttribute("aria-invalid", "true");
    twin.setAttribute("aria-describedby", error.id);
  }
}

/** @param {HTMLTableRowElement} fresh */
function restoreFocus(fresh) {
  if (!focusedId) return;
  const target = focusedId === "summary"
    ? fresh.querySelector("summary")
    : fresh.querySelector(`#${CSS.escape(focusedId)}`);
  focusedId = null;
  if (target instanceof HTMLElement) target.focus();
}

/**
 * @param {HTMLTableRowElement} row
 * @param {string | undefined} at
 */
function touch(row, at) {
  const time = row.querySelector(".last-activity");
  if (time instanceof HTMLTimeElement) {
    time.dateTime = at ?? new Date().toISOString();
    time.textContent = timeOfDay(at);
  }
}

// --- integrity events: the log, and polite announcements -----------------------------------

/** @type {string[]} */
let unannounced = [];
let lastAnnounced = 0;
/** @type {number | undefined} */
let announceTimer;

function announce() {
  announceTimer = undefined;
  const region = document.getElementById("live-announcer");
  if (!region || unannounced.length === 0) return;
  const latest = unannounced[unannounced.length - 1] ?? "";
  region.textContent = unannounced.length === 1
    ? t("Integrity event: {what}.", { what: latest })
    : t("{count} new integrity events. Latest: {what}.", {
      count: formatNumber(unannounced.length),
      what: latest,
    });
  unannounced = [];
  lastAnnounced = performance.now();
}

/** @param {string} text */
function queueAnnouncement(text) {
  unannounced.push(text);
  if (announceTimer !== undefined) return;
  const wait = Math.max(0, lastAnnounced + ANNOUNCE_EVERY_MS - performance.now());
  announceTimer = window.setTimeout(announce, wait);
}

/** @param {LiveMessage} message */
function integrity(message) {
  const row = message.attempt_id ? rowOf(message.attempt_id) : null;
  const who = row ? nameOf(row) : t("A candidate");
  const kinds = message.kinds ?? [];
  if (row) {
    const count = row.querySelector(".integrity-count");
    if (count) count.textContent = String(Number(count.textContent || "0") + kinds.length);
    touch(row, message.at);
    row.classList.remove("flash");
    void row.offsetWidth; // restart the highlight
    row.classList.add("flash");
  }
  const log = document.getElementById("integrity-log");
  log?.querySelector(".empty")?.remove();
  for (const kind of kinds) {
    const label = INTEGRITY_LABELS[kind] ?? kind;
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = message.at ?? new Date().toISOString();
    time.textContent = timeOfDay(message.at);
    item.append(time, " ", t("{who}: {what}", { who, what: label }));
    item.className = "new";
    log?.prepend(item);
    queueAnnouncement(t("{who} {what}", { who, what: label }));
  }
  while (log && log.children.length > 200) log.lastElementChild?.remove();
}

// --- the socket ----------------------------------------------------------------------------

/** @param {LiveMessage} message */
function handle(message) {
  const id = message.attempt_id;
  // Every hello, the first included: the rows as they are now (a change made between the
  // page's render, or a lost connection, and this socket's opening would be missed).
  if (message.event === "hello") { void reloadRows(); return; }
  if (message.event === "integrity") { integrity(message); return; }
  if (!id) return;
  const row = rowOf(id);
  if (STATE_EVENTS.has(message.event) || !row) { void reloadRows(id); return; }
  if (message.event === "navigated" && message.current_position !== undefined) {
    const position = row.querySelector(".position");
    if (position) position.textContent = String(message.current_position);
  }
  touch(row, message.at);
}

/**
 * @param {"on" | "off" | "wait"} kind
 * @param {string} text
 */
function setStatus(kind, text) {
  const box = document.getElementById("live-status");
  const label = document.getElementById("live-status-text");
  if (box) box.dataset["live"] = kind;
  if (label) label.textContent = text;
}

let retry = RETRY_MIN_MS;
/** Whether the socket was open once: a later refusal of the session is worth a retry. */
let wasLive = false;

function connect() {
  if (!root) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${root.dataset["liveUrl"]}/ws`);
  let opened = false;
  socket.addEventListener("message", (event) => {
    if (!opened) {
      opened = true;
      retry = RETRY_MIN_MS;
      setStatus("on", t("Live: changes appear as they happen."));
    }
    try {
      handle(/** @type {LiveMessage} */ (JSON.parse(String(event.data))));
    } catch {
      // A message this page does not understand changes nothing.
    }
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4403) {
      setStatus("off", t("Live updates are not available to you for this administration. Reload the page to see changes."));
      return;
    }
    if (event.code === 4401 && !opened && !wasLive) {
      setStatus("off", t("You are signed out. Reload the page to sign in again."));
      return;
    }
    // 4401 after being live: the session's access cookie was renewed meanwhile; try again.
    wasLive = wasLive || opened;
    setStatus("wait", t("Reconnecting to live updates… Reload the page to see changes meanwhile."));
    // News missed while away: the next hello re-reads the rows.
    window.setTimeout(connect, retry);
    retry = Math.min(retry * 2, RETRY_MAX_MS);
  });
}

if (root) {
  for (const row of document.querySelectorAll("#live-rows tr[data-attempt]")) {
    if (row instanceof HTMLTableRowElement) learnTime(row);
  }
  window.setInterval(tick, 1000);
  setStatus("wait", t("Connecting to live updates…"));
  connect();
}

// A module (its catalogue is awaited at the top level).
export {};
