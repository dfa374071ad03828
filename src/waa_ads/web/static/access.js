// @ts-check
// The access screen: the access code and the pre-test system check (storage for offline
// answers, browser support, connection, and a round trip to the server with its time).

import { serverAnswers, startAttempt } from "./api.js";
import { OFFLINE, problemMessage } from "./messages.js";
import { $, keepSession } from "./store.js";
import { stopTimers } from "./timer.js";
import { showScreen } from "./ui.js";

/** @type {() => Promise<void>} */
let onSignedIn = async () => {};

async function systemCheck() {
  const list = $("system-check");
  list.replaceChildren();
  /** @type {(label: string, ok: boolean, detail?: string) => void} */
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
    const ok = await serverAnswers();
    add("the test server answers", ok, `${Math.round(performance.now() - started)} ms`);
  } catch {
    add("the test server answers", false, "check your network");
  }
}

/**
 * Show the access screen, with a message (why the candidate is here again) or none.
 * @param {string} [message]
 */
export function showAccess(message = "") {
  stopTimers();
  $("access-error").textContent = message;
  showScreen("screen-access", "Sign in to your test");
  systemCheck();
}

/** @param {SubmitEvent} event */
async function signIn(event) {
  event.preventDefault();
  const field = $("access-code", HTMLInputElement);
  const submit = $("access-submit", HTMLButtonElement);
  const code = field.value.trim();
  const error = $("access-error");
  if (code.length < 8) {
    error.textContent = "Enter the access code you were given.";
    field.focus();
    return;
  }
  error.textContent = "";
  submit.disabled = true;
  try {
    const reply = await startAttempt(code);
    if (!reply.ok) {
      error.textContent = reply.problem.status === 404
        ? "This access code is not valid. Check it and try again."
        : problemMessage(reply.problem, "start");
      field.focus();
      return;
    }
    keepSession({ attemptId: reply.body.attempt.id, credential: reply.body.credential });
    field.value = "";
    await onSignedIn();
  } catch {
    error.textContent = OFFLINE;
  } finally {
    submit.disabled = false;
  }
}

/**
 * Wire the access form (once, at start).
 * @param {() => Promise<void>} then  opens the attempt once signed in
 */
export function wireAccess(then) {
  onSignedIn = then;
  $("access-form").addEventListener("submit", signIn);
}
