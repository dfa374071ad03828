// @ts-check
/**
 * The console's small enhancements; every page works without them.
 *
 * - Keeps the session alive while a page is open: the access cookie lives a few minutes,
 *   so the page trades the refresh cookie for a new pair before it runs out, and at once
 *   when the page is shown or focused again after a long pause (a laptop waking up).
 * - Asks before a form marked `data-confirm` is sent (terminating an attempt, deleting).
 * - Moves focus to the error summary when a form comes back refused.
 * - Closes the navigation's menus as menus are expected to close (Escape, elsewhere).
 */

const REFRESH_EVERY_MS = 5 * 60 * 1000;
/** Back to a page whose last refresh is older than this (a laptop waking up): refresh now. */
const STALE_AFTER_MS = 3 * 60 * 1000;
/** When the session was last refreshed (or the page loaded, which came with a fresh one). */
let refreshedAt = Date.now();

/** @param {string} name */
function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

async function refresh() {
  const csrf = cookie("waa_csrf");
  if (!csrf) return;
  refreshedAt = Date.now();
  try {
    await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
    });
  } catch {
    // Offline for a moment: the next round tries again.
  }
}

function keepAlive() {
  if (!document.querySelector("form[action='/console/logout']")) return;
  window.setInterval(() => void refresh(), REFRESH_EVERY_MS);
  // Timers sleep with the machine: on coming back, refresh at once if it is due.
  const ifStale = () => {
    if (document.visibilityState === "visible" && Date.now() - refreshedAt > STALE_AFTER_MS) {
      void refresh();
    }
  };
  document.addEventListener("visibilitychange", ifStale);
  window.addEventListener("focus", ifStale);
}

function confirmations() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const question = form.dataset["confirm"];
    if (question && !window.confirm(question)) event.preventDefault();
  });
}

function focusErrors() {
  const summary = document.querySelector(".error-summary");
  if (summary instanceof HTMLElement) summary.focus();
}

/**
 * The navigation's menus (`details.nav-group`, which work by themselves): one open at a
 * time; Escape closes the open one and puts the focus back on its heading; a click or a
 * focus outside closes it.
 */
function navigationMenus() {
  const groups = [...document.querySelectorAll("details.nav-group")];
  if (!groups.length) return;
  const closeAll = (/** @type {Element | null} */ except) => {
    for (const g of groups) if (g !== except && g instanceof HTMLDetailsElement) g.open = false;
  };
  for (const group of groups) {
    group.addEventListener("toggle", () => {
      if (group instanceof HTMLDetailsElement && group.open) closeAll(group);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return; // i18n: not shown
    const open = groups.find((g) => g instanceof HTMLDetailsElement && g.open);
    if (!(open instanceof HTMLDetailsElement)) return;
    open.open = false;
    const summary = open.querySelector("summary");
    if (summary instanceof HTMLElement) summary.focus();
  });
  const outside = (/** @type {Event} */ event) => {
    const target = event.target;
    if (target instanceof Node && !groups.some((g) => g.contains(target))) closeAll(null);
  };
  document.addEventListener("click", outside);
  document.addEventListener("focusin", outside);
}

keepAlive();
confirmations();
navigationMenus();
focusErrors();
