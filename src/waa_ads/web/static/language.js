// @ts-check
// The language of the attempt. The server renders the page in one language (`/take?lang=`)
// and the attempt says which it is delivered in (`locale`) and which the candidate may
// switch to (`locales`). When they differ the page reloads itself in the attempt's
// language; the attempt resumes from the server, and every answer waiting to be saved is
// sent first (and kept on this device whatever happens). Where the administration offers
// more than one language, the header has a switcher: `PUT .../locale`, then the reload.

import { putLocale } from "./api.js";
import { languages, locale, t } from "./i18n.js";
import { commitText } from "./item.js";
import { problemMessage } from "./messages.js";
import { flushPosition } from "./navigation.js";
import { $, session, state } from "./store.js";

/** @typedef {import("./types.js").AttemptView} AttemptView */

/**
 * The page's address in another language (`?lang=`), everything else kept.
 * @param {string} code
 */
export function addressIn(code) {
  const url = new URL(window.location.href);
  url.searchParams.set("lang", code);
  return url.toString();
}

/** Save what is waiting (typing, the position, queued answers, events), then go. */
async function reloadIn(/** @type {string} */ code) {
  commitText();
  flushPosition();
  try {
    await state.queue?.flush();
  } catch {
    // Offline: the queue is kept on this device and sent after the reload.
  }
  state.events?.flush();
  window.location.replace(addressIn(code));
}

/** Whether this page has asked the server to switch the attempt to its language. */
let switched = false;

/**
 * Bring the page and the attempt to one language. When the candidate chose the page's
 * language (`?lang=`, the switcher before the code) and the attempt offers it, the attempt
 * switches to it (`"reread"`: its questions come again in that language). Otherwise, when
 * the page is shown in another language than the attempt's, it reloads in the attempt's
 * (`"reload"`: the caller stops there). Nothing happens (`"stay"`) when the attempt does
 * not say, when the server cannot show that language, or when the address already asks
 * for it (so a language the page cannot be shown in never loops).
 * @param {Pick<AttemptView, "locale" | "locales">} read
 * @returns {Promise<"stay" | "reread" | "reload">}
 */
export async function followLocale(read) {
  const wanted = read.locale;
  if (typeof wanted !== "string" || !wanted || wanted === locale) return "stay";
  const asked = new URL(window.location.href).searchParams.get("lang");
  if (asked === locale && (read.locales ?? []).includes(locale) && state.session && !switched) {
    switched = true; // once per page: a server that keeps its language is followed below
    try {
      const reply = await putLocale(session().attemptId, locale);
      if (reply.ok) return "reread";
    } catch {
      // Offline: the attempt's own language, as below.
    }
  }
  if (!Object.prototype.hasOwnProperty.call(languages, wanted) || asked === wanted) return "stay";
  await reloadIn(wanted);
  return "reload";
}

/**
 * The header's switcher: shown when the attempt offers more than one language.
 * @param {Pick<AttemptView, "locales"> | null} read  `null` hides it (no live attempt)
 */
export function renderLanguageSwitcher(read) {
  const box = $("attempt-language");
  const offered = (read?.locales ?? []).filter((code) => typeof code === "string" && code);
  if (offered.length < 2) {
    box.hidden = true;
    return;
  }
  const select = $("attempt-language-select", HTMLSelectElement);
  const codes = offered.includes(locale) ? offered : [locale, ...offered];
  select.replaceChildren(...codes.map((code) => {
    const option = document.createElement("option");
    option.value = code;
    option.lang = code;
    option.textContent = languages[code]?.name ?? code;
    option.selected = code === locale;
    return option;
  }));
  $("attempt-language-error").textContent = "";
  box.hidden = false;
}

async function switchLanguage() {
  const select = $("attempt-language-select", HTMLSelectElement);
  const button = $("attempt-language-apply", HTMLButtonElement);
  const error = $("attempt-language-error");
  const code = select.value;
  if (!code || code === locale || !state.session) return;
  button.disabled = true;
  try {
    const reply = await putLocale(session().attemptId, code);
    if (!reply.ok) {
      error.textContent = reply.problem.code === "locale-not-offered"
        ? t("This language is not offered for your test.")
        : problemMessage(reply.problem, "save");
      return;
    }
    await reloadIn(code);
  } catch {
    error.textContent = t("The language cannot be changed while you are offline. Your answers are kept; try again when you are back online.");
  } finally {
    button.disabled = false;
  }
}

/** Wire the switcher (once, at start). */
export function wireLanguage() {
  $("attempt-language-apply").addEventListener("click", switchLanguage);
}
