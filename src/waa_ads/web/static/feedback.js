// @ts-check
// Feedback the test's policy shows (the server sends it only then; see delivery/feedback.py):
// "after_item" shows an item's feedback once the candidate has moved on from it (the
// question stays on screen, read-only, with its feedback under it, until Next); after the
// end ("after_test", and "after_item" too) the finished screen lists every question with
// the candidate's answer and its feedback. Each is a region named by its heading; focus
// moves to the heading when feedback appears, so a screen reader reads it and the keyboard
// goes on from there.

import { fetchView } from "./api.js";
import { formatNumber, languages, t } from "./i18n.js";
import { writeItem } from "./interactions.js";
import { $, session } from "./store.js";

const READING_KEY = "waa-player:feedback-read";

/** @typedef {import("./types.js").ViewItem} ViewItem */
/**
 * Feedback the candidate's answer selected (content/render/feedback.py).
 * @typedef {object} FeedbackEntry
 * @property {"block" | "inline" | "modal"} kind
 * @property {string | null} title  a modal feedback's title
 * @property {string} html  sanitized on the server
 */

/**
 * The entries as nodes, in order: a modal feedback's title is a heading of `level`; an
 * inline feedback reads as a paragraph of its own.
 * @param {FeedbackEntry[]} entries
 * @param {number} level  2 to 6
 * @returns {HTMLElement[]}
 */
export function feedbackNodes(entries, level) {
  return entries.map((entry) => {
    const box = document.createElement("div");
    box.classList.add("feedback-entry", `feedback-${entry.kind}`);
    if (entry.title) {
      const title = document.createElement(`h${Math.min(6, level)}`);
      title.textContent = entry.title;
      box.append(title);
    }
    const content = document.createElement(entry.kind === "inline" ? "p" : "div");
    content.innerHTML = entry.html; // sanitized on the server (content/render/feedback.py)
    box.append(content);
    return box;
  });
}

/**
 * Whether the policy shows this item's feedback now: the candidate has moved on from it,
 * so its answer is final.
 * @param {ViewItem | undefined} item
 */
export function isClosed(item) {
  return Array.isArray(item?.feedback);
}

/**
 * Make a question read-only while it stays readable: every control disabled (a screen
 * reader still reads the question and the answer, unlike `inert`) and no pointer input.
 * @param {HTMLElement} root
 */
export function closeControls(root) {
  root.classList.add("closed-item");
  // Glossary terms stay open to reading: they answer nothing.
  const controls = "input, select, textarea, button:not(.waa-term-button), fieldset";
  for (const control of root.querySelectorAll(controls)) {
    control.setAttribute("disabled", "");
  }
}

/**
 * Remember (for a reload) that the feedback of the item `ref` is on screen; `null`: none is.
 * @param {string | null | undefined} ref
 */
export function rememberFeedback(ref) {
  if (ref) sessionStorage.setItem(READING_KEY, `${session().attemptId} ${ref}`);
  else sessionStorage.removeItem(READING_KEY);
}

/**
 * The index of the item whose feedback was on screen before a reload, if it has feedback
 * to read; else -1 (and it is forgotten).
 * @param {import("./types.js").AttemptView} read
 */
export function feedbackOnScreen(read) {
  const kept = sessionStorage.getItem(READING_KEY) ?? "";
  const index = read.items.findIndex((i) => kept === `${session().attemptId} ${i.ref}`);
  if (index >= 0 && read.items[index].feedback?.length) return index;
  rememberFeedback(null);
  return -1;
}

/**
 * Show the feedback of the item on screen under it, or hide the region when it has none
 * to show (not yet, or the policy shows none). Whether the item is closed: its feedback
 * is out, so its answer can no longer change.
 * @param {ViewItem} item
 */
export function renderItemFeedback(item) {
  const region = $("item-feedback");
  const entries = item.feedback;
  if (!Array.isArray(entries)) {
    region.hidden = true;
    $("item-feedback-body").replaceChildren();
    return false;
  }
  const body = $("item-feedback-body");
  body.lang = item.item.language || "";
  body.dir = languages[item.item.language ?? ""]?.dir ?? "auto";
  if (entries.length) {
    body.replaceChildren(...feedbackNodes(entries, 3));
  } else {
    const none = document.createElement("p");
    none.textContent = t("There is no feedback on this answer.");
    body.replaceChildren(none);
  }
  region.hidden = false;
  return true;
}

/**
 * After the end: every question the candidate reached, with their answer and its
 * feedback, when the test's policy shows feedback. Reads the attempt again (the ended
 * attempt's view lists its items only then).
 */
export async function showTestFeedback() {
  const region = $("done-feedback");
  region.hidden = true;
  let read;
  try {
    read = await fetchView(session().attemptId);
  } catch {
    return;
  }
  if (!read || read.feedback === "none" || !read.feedback) return;
  const shown = read.items.filter((i) => Array.isArray(i.feedback));
  if (!shown.length) return;
  // The test screen's question would repeat the ids of the one listed here.
  $("item-form").replaceChildren();
  const list = document.createElement("ol");
  list.className = "feedback-list";
  for (const item of shown) {
    const entry = document.createElement("li");
    const article = document.createElement("article");
    const headingId = `feedback-q-${item.position}`;
    article.setAttribute("aria-labelledby", headingId);
    const heading = document.createElement("h3");
    heading.id = headingId;
    heading.textContent = t("Question {number}", { number: formatNumber(item.position) });
    // A form of its own: its controls are a group apart from the other questions' (their
    // radio buttons share a name).
    const question = document.createElement("form");
    question.classList.add("item-body", "answered-item");
    question.innerHTML = item.item.html; // sanitized on the server (content/render/)
    question.lang = item.item.language || "";
    question.dir = languages[item.item.language ?? ""]?.dir ?? "auto";
    writeItem(question, item.item.interactions, item.response?.value);
    closeControls(question);
    const feedback = document.createElement("section");
    feedback.className = "item-feedback";
    feedback.setAttribute("aria-labelledby", `${headingId}-feedback`);
    const title = document.createElement("h4");
    title.id = `${headingId}-feedback`;
    title.textContent = t("Feedback on your answer");
    const entries = item.feedback ?? [];
    if (entries.length) {
      feedback.append(title, ...feedbackNodes(entries, 5));
    } else {
      const none = document.createElement("p");
      none.textContent = t("There is no feedback on this answer.");
      feedback.append(title, none);
    }
    article.append(heading, question, feedback);
    entry.append(article);
    list.append(entry);
  }
  $("done-feedback-body").replaceChildren(list);
  region.hidden = false;
}
