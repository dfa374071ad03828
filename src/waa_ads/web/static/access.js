// @ts-check
// The access screen: the access code and the pre-test system check (storage for offline
// answers, browser support, connection, and a round trip to the server with its time).
// An entered code is looked up (POST .../lookup), which starts nothing: the welcome page
// shows what it opens, and starts the test only when the candidate asks (welcome.js).

import { lookupCode, serverAnswers } from "./api.js";
import { formatNumber, t } from "./i18n.js";
import { OFFLINE, problemMessage } from "./messages.js";
import { $ } from "./store.js";
import { stopTimers } from "./timer.js";
import { renderHeader, showScreen } from "./ui.js";
import { showWelcome, wireWelcome } from "./welcome.js";

async function systemCheck() {
  const list = $("system-check");
  list.replaceChildren();
  /** @type {(label: string, ok: boolean, detail?: string) => void} */
  const add = (label, ok, detail) => {
    const li = document.createElement("li");
    li.className = ok ? "ok" : "problem";
    const verdict = ok ? t("OK") : t("Problem");
    li.textContent = detail
      ? t("{state}: {check} ({detail})", { state: verdict, check: label, detail })
      : t("{state}: {check}", { state: verdict, check: label });
    list.append(li);
  };
  let storage = false;
  try {
    localStorage.setItem("waa-player:probe", "1");
    localStorage.removeItem("waa-player:probe");
    storage = true;
  } catch { /* private mode or storage disabled */ }
  add(t("answers can be kept on this device while offline"), storage, storage ? "" : t("turn on site storage"));
  add(t("this browser supports the test"), typeof fetch === "function" && "HTMLDialogElement" in window && !!window.CSS?.escape);
  add(t("you are connected"), navigator.onLine);
  const started = performance.now();
  try {
    const ok = await serverAnswers();
    add(t("the test server answers"), ok, t("{duration} ms", { duration: formatNumber(Math.round(performance.now() - started)) }));
  } catch {
    add(t("the test server answers"), false, t("check your network"));
  }
}

/**
 * Show the access screen, with a message (why the candidate is here again) or none.
 * @param {string} [message]
 */
export function showAccess(message = "") {
  stopTimers();
  renderHeader(null);
  $("access-error").textContent = message;
  showScreen("screen-access", t("Sign in to your test"));
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
    error.textContent = t("Enter the access code you were given.");
    field.focus();
    return;
  }
  error.textContent = "";
  submit.disabled = true;
  try {
    const reply = await lookupCode(code);
    if (!reply.ok) {
      error.textContent = reply.problem.status === 404
        ? t("This access code is not valid. Check it and try again.")
        : problemMessage(reply.problem, "start");
      field.focus();
      return;
    }
    field.value = "";
    showWelcome(code, reply.body);
  } catch {
    error.textContent = OFFLINE;
  } finally {
    submit.disabled = false;
  }
}

/**
 * Wire the access form and the welcome page (once, at start).
 * @param {() => Promise<void>} open  opens the attempt once started
 */
export function wireAccess(open) {
  wireWelcome({ open, back: showAccess });
  $("access-form").addEventListener("submit", signIn);
}
