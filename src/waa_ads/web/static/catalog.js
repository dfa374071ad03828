// @ts-check
// Glossary terms in a question (QTI accessibility catalogs). The server renders each term
// as a button (`aria-expanded`, `aria-controls`) followed by its card, hidden, holding one
// section per support shown: a definition (glossary-on-screen) and a translation into the
// attempt's language (keyword-translation). Here the term opens and closes its card: a
// click, Enter or Space toggles it, Escape closes it and puts focus back on the term.
// Only one card is open at a time. Cards are content only; nothing is saved.

import { t } from "./i18n.js";

const TERM = "button.waa-term-button";

/** @param {string} support */
function sectionLabel(support) {
  return support === "keyword-translation" ? t("Translation:") : t("Definition:");
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
    hint.textContent = " " + t("(word help)");
    button.append(hint);
    const card = cardOf(button);
    if (!card) continue;
    for (const section of card.querySelectorAll(".waa-term-support")) {
      if (!(section instanceof HTMLElement)) continue;
      const label = document.createElement("span");
      label.className = "waa-term-label";
      // The label is in the player's language, whatever the section's own.
      label.lang = document.documentElement.lang;
      label.textContent = sectionLabel(section.dataset.support ?? "") + " ";
      section.prepend(label);
    }
  }
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
