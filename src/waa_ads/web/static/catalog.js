// @ts-check
// Help from a question's accessibility catalogs (QTI 3.0). The server renders each term as
// a button (`aria-expanded`, `aria-controls`) followed by its card, hidden, holding one
// section per support shown to this candidate: a definition (glossary-on-screen) and a
// translation into the attempt's language (keyword-translation) for everyone, and, for a
// candidate whose accommodations give them, linguistic guidance, a text to read aloud
// (spoken), a sign-language video and other supports. A block (a paragraph, an
// interaction) that refers to a catalog has a "Help" button of the same kind at its start.
// A braille text is a visually hidden span beside the term, for a braille display.
// Here a term or a Help button opens and closes its card: a click, Enter or Space toggles
// it, Escape closes it and puts focus back on the button. Only one card is open at a
// time. A spoken section gets a "Listen" button that reads its text with the browser's
// own speech synthesis, with a voice on this device only (never a network voice); where
// there is none, the text stays on screen and the button says so. Cards are content
// only; nothing is saved.

import { t } from "./i18n.js";

const TERM = "button.waa-term-button";

/** @param {string} support */
function sectionLabel(support) {
  switch (support) {
    case "glossary-on-screen":
      return t("Definition:");
    case "keyword-translation":
      return t("Translation:");
    case "linguistic-guidance":
      return t("Guidance:");
    case "spoken":
      return t("Read aloud:");
    case "sign-language":
      return t("Sign language:");
    case "braille":
      return t("Braille:");
    default:
      return t("More help:");
  }
}

/** @returns {SpeechSynthesis | null} */
function speech() {
  return "speechSynthesis" in window && typeof window.SpeechSynthesisUtterance === "function"
    ? window.speechSynthesis
    : null;
}

/**
 * A voice on this device for `lang` (its language, else any local voice), or null: a
 * voice that is not local would send the text over the network.
 * @param {SpeechSynthesis} synthesis
 * @param {string} lang
 */
function localVoice(synthesis, lang) {
  const local = synthesis.getVoices().filter((v) => v.localService);
  const base = lang.toLowerCase().split("-")[0];
  return (
    local.find((v) => v.lang.toLowerCase() === lang.toLowerCase()) ??
    local.find((v) => v.lang.toLowerCase().split("-")[0] === base) ??
    null
  );
}

/**
 * Give a spoken section its Listen button (when the browser has speech synthesis) and a
 * place for the button to say why it cannot read.
 * @param {HTMLElement} section
 */
function addListen(section) {
  const synthesis = speech();
  if (!synthesis) return; // the text is on screen: that is the support without speech
  const button = document.createElement("button");
  button.type = "button";
  button.className = "waa-listen";
  button.textContent = t("Listen");
  button.setAttribute("aria-pressed", "false");
  const status = document.createElement("span");
  status.className = "waa-listen-status";
  status.setAttribute("role", "status");
  section.append(" ", button, status);
}

/** @param {HTMLButtonElement} button */
function listen(button) {
  const synthesis = speech();
  const section = button.closest(".waa-term-support");
  const status = section?.querySelector(".waa-listen-status");
  if (!synthesis || !(section instanceof HTMLElement)) return;
  if (button.getAttribute("aria-pressed") === "true") {
    synthesis.cancel();
    return;
  }
  const text = section.querySelector(".waa-spoken-text")?.textContent?.trim() ?? "";
  // The text's own language: its entry's, else the item's (the question carries it).
  const holder = section.closest("[lang]");
  const lang = (holder instanceof HTMLElement && holder.lang) || document.documentElement.lang || "en";
  const voice = localVoice(synthesis, lang);
  if (!text) return;
  if (!voice) {
    if (status) status.textContent = t("This device has no voice to read this aloud; the text is shown above.");
    return;
  }
  if (status) status.textContent = "";
  synthesis.cancel();
  const utterance = new window.SpeechSynthesisUtterance(text);
  utterance.voice = voice;
  utterance.lang = voice.lang || lang;
  const done = () => button.setAttribute("aria-pressed", "false");
  utterance.addEventListener("end", done);
  utterance.addEventListener("error", done);
  button.setAttribute("aria-pressed", "true");
  synthesis.speak(utterance);
}

/** @param {HTMLButtonElement} button */
function cardOf(button) {
  const id = button.getAttribute("aria-controls");
  const card = id ? document.getElementById(id) : null;
  return card instanceof HTMLElement ? card : null;
}

/**
 * Name what a term does and label each section of its card, in the player's language.
 * Safe to call again on the same content.
 * @param {ParentNode} root
 */
function enhanceTerms(root) {
  for (const button of root.querySelectorAll(TERM)) {
    if (!(button instanceof HTMLButtonElement) || button.dataset.termReady) continue;
    button.dataset.termReady = "1";
    const hint = document.createElement("span");
    hint.className = "visually-hidden";
    hint.textContent = button.classList.contains("waa-help-button")
      ? " " + t("(help with what follows)")
      : " " + t("(word help)");
    button.append(hint);
    const card = cardOf(button);
    if (!card) continue;
    for (const section of card.querySelectorAll(".waa-term-support")) {
      if (!(section instanceof HTMLElement)) continue;
      label(section);
      if (section.dataset.support === "spoken") addListen(section);
    }
  }
  for (const braille of root.querySelectorAll(".waa-braille")) {
    if (braille instanceof HTMLElement && !braille.dataset.termReady) {
      braille.dataset.termReady = "1";
      label(braille);
    }
  }
}

/**
 * Start a section with what it is ("Definition:"), in the player's language.
 * @param {HTMLElement} section
 */
function label(section) {
  const span = document.createElement("span");
  span.className = "waa-term-label";
  // The label is in the player's language, whatever the section's own.
  span.lang = document.documentElement.lang;
  span.textContent = sectionLabel(section.dataset.support ?? "") + " ";
  section.prepend(span);
}

/**
 * Open or close a term's card.
 * @param {HTMLButtonElement} button
 * @param {boolean} open
 */
function setOpen(button, open) {
  const card = cardOf(button);
  if (!card) return;
  button.setAttribute("aria-expanded", open ? "true" : "false");
  card.hidden = !open;
  if (!open) {
    // A closed card stops reading aloud and pauses its video.
    if (card.querySelector('.waa-listen[aria-pressed="true"]')) speech()?.cancel();
    for (const media of card.querySelectorAll("video, audio")) {
      if (media instanceof HTMLMediaElement) media.pause();
    }
  }
}

/** @param {HTMLButtonElement} [except] */
function closeAll(except) {
  for (const button of document.querySelectorAll(`${TERM}[aria-expanded="true"]`)) {
    if (button instanceof HTMLButtonElement && button !== except) setOpen(button, false);
  }
}

/** @param {Event} event */
function termOf(event) {
  const target = event.target;
  const term = target instanceof Element ? target.closest(".waa-term") : null;
  const button = term?.querySelector(TERM);
  return button instanceof HTMLButtonElement ? button : null;
}

/**
 * Listen (once, at start) for terms anywhere in the page: questions come and go (the
 * question on screen, the answers on the finished screen), each made ready as it arrives
 * (and those already in the page: a staff preview's).
 */
export function wireTerms() {
  new MutationObserver((records) => {
    const roots = new Set(records.filter((r) => r.addedNodes.length).map((r) => r.target));
    for (const root of roots) if (root instanceof Element) enhanceTerms(root);
  }).observe(document.body, { childList: true, subtree: true });
  enhanceTerms(document.body);
  document.addEventListener("click", (event) => {
    const target = event.target;
    const listenButton = target instanceof Element ? target.closest("button.waa-listen") : null;
    if (listenButton instanceof HTMLButtonElement) {
      listen(listenButton);
      return;
    }
    const button = target instanceof Element ? target.closest(TERM) : null;
    if (!(button instanceof HTMLButtonElement)) return;
    const open = button.getAttribute("aria-expanded") !== "true";
    closeAll(button);
    setOpen(button, open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return; // i18n: not shown
    const button = termOf(event);
    if (!button || button.getAttribute("aria-expanded") !== "true") return;
    event.preventDefault();
    setOpen(button, false);
    button.focus();
  });
}
