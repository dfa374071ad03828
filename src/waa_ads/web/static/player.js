// The candidate's player: access code, pre-test check, the test (navigation, flags,
// review, timer, autosave), submission and the result. Talks to the candidate API only
// (docs/candidate-api.md) with the attempt's credential in the X-Attempt-Token header.
//
// Item HTML comes from the server already sanitized and is inserted as HTML; everything
// else shown here (what the candidate typed, messages from the server) is set as text.

import { enhancePictures, enhanceSliders, isAnswered, readItem, writeItem } from "./responses.js";
import { EventBatcher, SaveQueue } from "./sync.js";

const SESSION_KEY = "waa-player:session";
const LIVE = new Set(["in_progress", "paused"]);
const TEXT_TYPES = new Set(["text_entry", "numeric_entry", "extended_text", "select_point"]);
const $ = (id) => document.getElementById(id);

const state = {
  session: null,        // {attemptId, credential}
  view: null,           // the last GET of the attempt
  index: 0,             // the item shown
  shownAt: 0,           // performance.now() when it was shown
  spent: new Map(),     // ref -> ms spent before the item was last shown
  local: new Map(),     // ref -> {value, flagged}: the newest edit made here
  deadline: null,       // performance.now() at which the time runs out
  warned: new Set(),
  queue: null,
  events: null,
  timers: [],
  ended: false,
};

// --- plumbing -----------------------------------------------------------------------------

function readSession() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null"); } catch { return null; }
}

function api(path, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (state.session) headers.set("X-Attempt-Token", state.session.credential);
  headers.set("Accept", "application/json");
  return fetch(path, { ...init, headers, credentials: "omit", cache: "no-store" });
}

async function problemDetail(response, fallback) {
  try {
    const body = await response.json();
    return body.detail || body.title || fallback;
  } catch {
    return fallback;
  }
}

function announce(message) {
  const region = $("announcer");
  region.textContent = "";
  // A fresh text node in the next frame makes screen readers read it even if it repeats.
  requestAnimationFrame(() => { region.textContent = message; });
}

function showScreen(id, title) {
  for (const screen of document.querySelectorAll(".screen")) screen.hidden = screen.id !== id;
  document.title = `${title} – WAA-ADS`;
  const inTest = id === "screen-test" || id === "screen-review";
  $("timer").hidden = !inTest || state.deadline === null;
  $("test-title").hidden = !inTest;
}

function focusHeading(id) {
  const heading = $(id);
  if (heading) heading.focus();
}

// --- access code and the pre-test check -------------------------------------------------

async function systemCheck() {
  const list = $("system-check");
  list.replaceChildren();
  const add = (label, ok, detail) => {
    const li = document.createElement("li");
    li.className = ok ? "ok" : "problem";
    li.textContent = `${ok ? "OK" : "Problem"}: ${label}${detail ? ` (${detail})` : ""}`;
    list.append(li);
  };
  let storage = false;
  try {
    localStorage.setItem("waa-player:probe", "1");
    localStorage.removeItem("waa-player:probe");
    storage = true;
  } catch { /* private mode or storage disabled */ }
  add("answers can be kept on this device while offline", storage, storage ? "" : "turn on site storage");
  add("this browser supports the test", typeof fetch === "function" && "HTMLDialogElement" in window && !!window.CSS?.escape);
  add("you are connected", navigator.onLine);
  const started = performance.now();
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    add("the test server answers", response.ok, `${Math.round(performance.now() - started)} ms`);
  } catch {
    add("the test server answers", false, "check your network");
  }
}

function showAccess(message = "") {
  stopTimers();
  $("access-error").textContent = message;
  showScreen("screen-access", "Sign in to your test");
  systemCheck();
}

async function signIn(event) {
  event.preventDefault();
  const code = $("access-code").value.trim();
  const error = $("access-error");
  if (code.length < 8) {
    error.textContent = "Enter the access code you were given.";
    $("access-code").focus();
    return;
  }
  error.textContent = "";
  $("access-submit").disabled = true;
  try {
    const response = await fetch("/api/v1/attempts", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ access_code: code }),
      credentials: "omit",
    });
    if (!response.ok) {
      error.textContent = response.status === 404
        ? "This access code is not valid. Check it and try again."
        : await problemDetail(response, "The test cannot be started now.");
      $("access-code").focus();
      return;
    }
    const body = await response.json();
    state.session = { attemptId: body.attempt.id, credential: body.credential };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
    $("access-code").value = "";
    await openAttempt();
  } catch {
    error.textContent = "The test server cannot be reached. Check your network and try again.";
  } finally {
    $("access-submit").disabled = false;
  }
}

// --- the attempt ------------------------------------------------------------------------

async function fetchView() {
  const response = await api(`/api/v1/attempts/${state.session.attemptId}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(await problemDetail(response, `HTTP ${response.status}`));
  return response.json();
}

function syncClock(view) {
  if (view.remaining_s === null || view.remaining_s === undefined) {
    state.deadline = null;
    return;
  }
  state.deadline = performance.now() + view.remaining_s * 1000;
  renderTimer();
}

async function openAttempt() {
  state.ended = false;
  const { attemptId } = state.session;
  state.queue = new SaveQueue(attemptId, api, {
    onState: renderSaveState,
    onSaved: () => renderQuestionList(),
    onRefused,
  });
  state.events = new EventBatcher(attemptId, api);
  let view;
  try {
    view = await fetchView();
  } catch {
    showAccess("The test server cannot be reached. Your answers are kept on this device; try again when you are back online.");
    return;
  }
  if (view === null) {
    forgetSession();
    showAccess("Your session has ended. Enter your access code again to continue; answers not yet saved are kept on this device.");
    return;
  }
  state.view = view;
  for (const item of view.items) {
    if (item.response) {
      state.queue.observe(item.ref, item.response.seq);
      state.spent.set(item.ref, item.response.time_spent_ms ?? 0);
    }
  }
  syncClock(view);
  if (!LIVE.has(view.attempt.state)) {
    await showDone(endingOf(view.attempt));
    return;
  }
  $("test-title").textContent = view.title ?? "Test";
  const current = view.items.findIndex((i) => i.position === view.current_position);
  state.index = current >= 0 ? current : 0;
  showScreen("screen-test", "Test");
  renderPaused();
  showItem(state.index, { focus: false });
  startTimers();
  state.queue.flush();
}

function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
  state.session = null;
}

function onRefused(kind, detail) {
  if (kind === "credential") {
    forgetSession();
    showAccess("Please enter your access code again. Answers not yet saved are kept on this device and will be sent.");
  } else if (kind === "late") {
    announce("The time for this test is over.");
    refresh();
  } else if (kind === "paused") {
    refresh();
  } else {
    $("item-error").textContent = `An answer could not be saved: ${detail ?? "it was refused"}.`;
  }
}

/** The response to show for an item: this browser's newest edit, else the server's. */
function effective(item) {
  const local = state.local.get(item.ref);
  if (local) return local;
  const pending = state.queue.pendingFor(item.ref);
  if (pending && pending.seq > (item.response?.seq ?? 0)) {
    return { value: pending.value, flagged: !!pending.flagged };
  }
  return { value: item.response?.value ?? null, flagged: !!item.response?.flagged };
}

function currentItem() {
  return state.view.items[state.index];
}

function showItem(index, { focus = true } = {}) {
  commitText();
  const items = state.view.items;
  state.index = Math.max(0, Math.min(index, items.length - 1));
  const item = currentItem();
  const form = $("item-form");
  form.innerHTML = item.item.html; // sanitized on the server (content/render.py)
  form.lang = item.item.language || "";
  const { value, flagged } = effective(item);
  writeItem(form, item.item.interactions, value);
  enhanceSliders(form);
  enhancePictures(form, item.item.interactions);
  renderUploads(form, item, value);
  $("item-heading").textContent = `Question ${item.position} of ${state.view.item_count}`;
  $("item-error").textContent = "";
  $("flag-toggle").checked = flagged;
  $("flag-toggle").parentElement.hidden = !state.view.allow_flags;
  const linear = state.view.navigation === "linear";
  $("prev-button").hidden = linear;
  $("prev-button").disabled = state.index === 0;
  $("next-button").disabled = linear
    ? item.position >= state.view.item_count
    : state.index === items.length - 1;
  $("review-button").hidden = !state.view.allow_review || linear;
  $("question-nav").hidden = linear;
  state.shownAt = performance.now();
  renderQuestionList();
  if (focus) focusHeading("item-heading");
}

function timeSpent(item) {
  return Math.round((state.spent.get(item.ref) ?? 0) + (performance.now() - state.shownAt));
}

function leaveItem() {
  const item = currentItem();
  if (item) state.spent.set(item.ref, timeSpent(item));
}

let textTimer = null;

/** Save the shown item now (reading every control), if it changed. */
function saveCurrent() {
  clearTimeout(textTimer);
  textTimer = null;
  const item = currentItem();
  if (!item) return;
  let value;
  try {
    value = readItem($("item-form"), item.item.interactions);
  } catch (error) {
    $("item-error").textContent = error.message;
    return;
  }
  if (value === undefined) value = effective(item).value; // uploads: kept as stored
  $("item-error").textContent = "";
  const flagged = $("flag-toggle").checked;
  const before = effective(item);
  if (JSON.stringify(before.value) === JSON.stringify(value) && before.flagged === flagged) return;
  state.local.set(item.ref, { value, flagged });
  state.queue.enqueue(item.ref, value, flagged, timeSpent(item));
  renderQuestionList();
}

/** Typing is saved after a short pause, and at once when the candidate moves on. */
function commitText() {
  if (textTimer !== null) saveCurrent();
}

function onFormEdit(event) {
  const target = event.target;
  if (target.type === "file") return;
  const fieldset = target.closest("[data-interaction-type]");
  const typing = event.type === "input" && (target.tagName === "TEXTAREA"
    || (target.tagName === "INPUT" && target.type === "text")
    || TEXT_TYPES.has(fieldset?.dataset.interactionType));
  if (typing) {
    clearTimeout(textTimer);
    textTimer = setTimeout(saveCurrent, 600);
  } else {
    saveCurrent();
  }
}

// --- uploads ----------------------------------------------------------------------------

function renderUploads(form, item, value) {
  for (const input of form.querySelectorAll("input[type=file]")) {
    const note = document.createElement("p");
    note.className = "upload-state";
    note.setAttribute("aria-live", "polite");
    note.textContent = value && value.name ? `Uploaded: ${value.name}` : "No file uploaded yet.";
    input.insertAdjacentElement("afterend", note);
    input.setAttribute("aria-describedby", `${input.id}-state`);
    note.id = `${input.id}-state`;
    input.addEventListener("change", () => upload(item, input, note));
  }
}

async function upload(item, input, note) {
  const file = input.files?.[0];
  if (!file) return;
  if (!navigator.onLine) {
    note.textContent = "You are offline. Choose the file again when the connection is back.";
    return;
  }
  const seq = state.queue.seqOf(item.ref) + 1;
  state.queue.observe(item.ref, seq);
  const body = new FormData();
  body.append("seq", String(seq));
  body.append("file", file, file.name);
  note.textContent = `Uploading ${file.name}…`;
  try {
    const response = await api(
      `/api/v1/attempts/${state.session.attemptId}/responses/${encodeURIComponent(item.ref)}/file`,
      { method: "POST", body },
    );
    if (!response.ok) {
      note.textContent = `The file was not accepted: ${await problemDetail(response, `HTTP ${response.status}`)}`;
      return;
    }
    note.textContent = `Uploaded: ${file.name}`;
    const view = await fetchView();
    const stored = view?.items.find((i) => i.ref === item.ref);
    if (stored) item.response = stored.response;
    state.local.delete(item.ref);
    renderQuestionList();
    renderSaveState({ pending: state.queue.queue.length, saving: false, offline: false });
  } catch {
    note.textContent = "The upload failed because the connection dropped. Choose the file again.";
  }
}

// --- question list, review, save state ---------------------------------------------------

function itemStatus(item) {
  const { value, flagged } = effective(item);
  return { answered: isAnswered(value), flagged };
}

function renderQuestionList() {
  if (!state.view) return;
  const list = $("question-list");
  const items = state.view.items;
  // Built once and then updated in place: re-creating the buttons while one is being
  // pressed (a save on focus-out happens between mousedown and click) would lose the click.
  if (list.children.length !== items.length) {
    list.replaceChildren(...items.map((item, index) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${item.position}`;
      button.addEventListener("click", () => goTo(index));
      li.append(button);
      return li;
    }));
  }
  items.forEach((item, index) => {
    const { answered, flagged } = itemStatus(item);
    const button = list.children[index].firstElementChild;
    button.className = `question-link${answered ? " answered" : ""}${flagged ? " flagged" : ""}`;
    const words = [`Question ${item.position}`, answered ? "answered" : "not answered"];
    if (flagged) words.push("flagged");
    button.setAttribute("aria-label", words.join(", "));
    if (index === state.index) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
  });
}

function goTo(index) {
  leaveItem();
  showScreen("screen-test", "Test");
  showItem(index);
}

function showReview() {
  commitText();
  leaveItem();
  const rows = $("review-rows");
  rows.replaceChildren();
  let unanswered = 0;
  let flaggedCount = 0;
  state.view.items.forEach((item, index) => {
    const { answered, flagged } = itemStatus(item);
    if (!answered) unanswered += 1;
    if (flagged) flaggedCount += 1;
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = `Question ${item.position}`;
    button.addEventListener("click", () => goTo(index));
    th.append(button);
    const answer = document.createElement("td");
    answer.textContent = answered ? "Answered" : "Not answered";
    const flag = document.createElement("td");
    flag.textContent = flagged ? "Flagged" : "";
    tr.append(th, answer, flag);
    rows.append(tr);
  });
  $("review-summary").textContent =
    `${state.view.items.length - unanswered} of ${state.view.items.length} questions answered; ${flaggedCount} flagged for review.`;
  showScreen("screen-review", "Review your answers");
  focusHeading("review-heading");
}

function renderSaveState({ pending, saving, offline }) {
  const text = $("save-state");
  const banner = $("offline-banner");
  if (offline) {
    text.textContent = pending ? `Offline — ${pending} answer${pending === 1 ? "" : "s"} waiting` : "Offline";
    banner.hidden = false;
    banner.textContent = pending
      ? `You are offline. ${pending} answer${pending === 1 ? " is" : "s are"} kept on this device and will be saved when the connection is back. You can keep working.`
      : "You are offline. You can keep working; your answers will be saved when the connection is back.";
  } else {
    banner.hidden = true;
    text.textContent = saving || pending ? "Saving…" : "Saved";
  }
}

function renderPaused() {
  const paused = state.view?.attempt.paused;
  $("item-form").inert = !!paused;
  if (paused) $("item-error").textContent = "The test is paused. The clock is stopped; please wait.";
}

// --- time ---------------------------------------------------------------------------------

function formatTime(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

function remainingSeconds() {
  if (state.deadline === null) return null;
  return Math.max(0, Math.ceil((state.deadline - performance.now()) / 1000));
}

function renderTimer() {
  const left = remainingSeconds();
  const timer = $("timer");
  if (left === null) { timer.hidden = true; return; }
  timer.textContent = `Time left ${formatTime(left)}`;
  timer.classList.toggle("low", left <= 300);
  for (const [limit, message] of [[300, "5 minutes left."], [60, "1 minute left."]]) {
    if (left <= limit && left > 0 && !state.warned.has(limit)) {
      state.warned.add(limit);
      announce(message);
    }
  }
  if (left === 0 && !state.ended && !state.view?.attempt.paused) timeUp();
}

async function timeUp() {
  if (state.timeUp) return;
  state.timeUp = true;
  announce("Time is up. Your last answers are being saved.");
  $("item-form").inert = true;
  commitText();
  await state.queue.flush();
  // The server ends the attempt once its grace period is over; ask until it has.
  const poll = async () => {
    if (state.ended) return;
    await refresh();
    if (!state.ended) state.timers.push(setTimeout(poll, 2000));
  };
  poll();
}

/** Re-read the attempt: re-syncs the clock, notices a pause, an extension or the end. */
async function refresh() {
  if (!state.session) return;
  let view;
  try { view = await fetchView(); } catch { return; }
  if (view === null) { onRefused("credential"); return; }
  const wasPaused = state.view?.attempt.paused;
  state.view.attempt = view.attempt;
  state.view.remaining_s = view.remaining_s;
  syncClock(view);
  if (!LIVE.has(view.attempt.state)) { await showDone(endingOf(view.attempt)); return; }
  if (view.remaining_s > 0) { state.timeUp = false; $("item-form").inert = false; }
  if (wasPaused !== view.attempt.paused) {
    renderPaused();
    if (!view.attempt.paused) $("item-error").textContent = "";
  }
}

function startTimers() {
  stopTimers();
  state.timers.push(setInterval(renderTimer, 1000));
  state.timers.push(setInterval(refresh, 60000));
}

function stopTimers() {
  for (const t of state.timers) { clearInterval(t); clearTimeout(t); }
  state.timers = [];
}

// --- submitting and the result -------------------------------------------------------------

function askSubmit() {
  commitText();
  const total = state.view.items.length;
  const answered = state.view.items.filter((i) => itemStatus(i).answered).length;
  const flagged = state.view.items.filter((i) => itemStatus(i).flagged).length;
  $("confirm-text").textContent =
    `You answered ${answered} of ${total} questions` +
    (flagged ? ` and ${flagged} ${flagged === 1 ? "is" : "are"} flagged for review` : "") +
    ". After submitting you cannot change your answers.";
  $("confirm-dialog").showModal();
}

async function submit() {
  const dialog = $("confirm-dialog");
  $("confirm-submit").disabled = true;
  try {
    await state.queue.flush();
    const waiting = state.queue.queue.length;
    if (waiting) {
      $("confirm-text").textContent =
        `${waiting} answer${waiting === 1 ? " is" : "s are"} not saved yet because the connection is down. Submit again when you are back online.`;
      return;
    }
    const response = await api(`/api/v1/attempts/${state.session.attemptId}/submit`, { method: "POST" });
    if (!response.ok) {
      $("confirm-text").textContent = await problemDetail(response, "The test could not be submitted. Try again.");
      return;
    }
    const attempt = await response.json();
    dialog.close();
    await showDone(endingOf(attempt));
  } catch {
    $("confirm-text").textContent = "The server cannot be reached. Submit again when you are back online.";
  } finally {
    $("confirm-submit").disabled = false;
  }
}

const ENDINGS = {
  submitted: "Your answers were submitted.",
  expired: "Time is up. The answers you saved were submitted for you.",
  terminated: "Your test was ended by the proctor.",
  invalidated: "This attempt was invalidated.",
};

/** How the attempt ended, also once it has moved on to scoring or release. */
function endingOf(attempt) {
  return attempt.state === "invalidated" ? "invalidated" : (attempt.ended_because ?? attempt.state);
}

async function showDone(attemptState) {
  state.ended = true;
  stopTimers();
  state.queue?.flush();
  state.events?.flush();
  $("done-message").textContent = ENDINGS[attemptState] ?? "Your test is finished.";
  showScreen("screen-done", "Test finished");
  focusHeading("done-heading");
  let tries = 0;
  const poll = async () => {
    const released = await loadResult();
    tries += 1;
    if (!released && tries < 8 && state.ended) state.timers.push(setTimeout(poll, 2000));
  };
  await poll();
}

async function loadResult() {
  const box = $("result");
  let response;
  try {
    response = await api(`/api/v1/attempts/${state.session.attemptId}/result`);
  } catch {
    box.textContent = "Your result cannot be loaded while you are offline.";
    return false;
  }
  if (!response.ok) {
    box.replaceChildren();
    const p = document.createElement("p");
    p.textContent = "Your result is not available yet. It will be published later; you can come back and check with your access code.";
    box.append(p);
    return false;
  }
  const result = await response.json();
  const heading = document.createElement("h2");
  heading.textContent = "Your result";
  const list = document.createElement("dl");
  const add = (term, value) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  };
  const round = (x) => Math.round(x * 100) / 100;
  add("Score", `${round(result.raw)} out of ${round(result.max_raw)}`);
  if (result.band) add("Band", result.band);
  if (result.passed !== null && result.passed !== undefined) add("Outcome", result.passed ? "Passed" : "Not passed");
  box.replaceChildren(heading, list);
  box.dataset.released = "true";
  return true;
}

// --- integrity events -----------------------------------------------------------------------

function watchIntegrity() {
  const record = (kind, data) => {
    if (state.events && state.session && !state.ended && !$("screen-test").hidden) state.events.record(kind, data);
  };
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
  window.addEventListener("offline", () => {
    record("network_lost");
    state.queue?.setOffline(true);
  });
  window.addEventListener("online", () => {
    record("network_restored");
    state.queue?.setOffline(false);
    state.events?.flush();
    refresh();
  });
}

// --- wiring ---------------------------------------------------------------------------------

function wire() {
  $("access-form").addEventListener("submit", signIn);
  const form = $("item-form");
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("input", onFormEdit);
  form.addEventListener("change", onFormEdit);
  form.addEventListener("focusout", commitText);
  $("flag-toggle").addEventListener("change", saveCurrent);
  $("prev-button").addEventListener("click", () => goTo(state.index - 1));
  $("next-button").addEventListener("click", next);
  $("review-button").addEventListener("click", showReview);
  $("review-back").addEventListener("click", () => goTo(state.index));
  $("submit-button").addEventListener("click", askSubmit);
  $("review-submit").addEventListener("click", askSubmit);
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("confirm-submit").addEventListener("click", submit);
  $("result-refresh").addEventListener("click", loadResult);
  window.addEventListener("pagehide", () => { commitText(); state.events?.flush(); });
  watchIntegrity();
}

async function next() {
  if (state.view.navigation !== "linear") {
    goTo(state.index + 1);
    return;
  }
  commitText();
  await state.queue.flush();
  const response = await api(`/api/v1/attempts/${state.session.attemptId}/advance`, { method: "POST" });
  if (!response.ok) {
    $("item-error").textContent = await problemDetail(response, "Could not move on; try again.");
    return;
  }
  leaveItem();
  await openAttempt();
  focusHeading("item-heading");
}

wire();
state.session = readSession();
if (state.session) openAttempt();
else showAccess();
