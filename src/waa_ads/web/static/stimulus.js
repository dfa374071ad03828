// @ts-check
// Shared stimuli: the passage, picture or table several questions are about, shown beside
// the question (content/stimuli.py sends each item's, in order, sanitized on the server).
// Each is a region named by its title. The questions that share one follow each other;
// moving between them keeps it on screen as it is (where the candidate scrolled it to),
// and focus then goes to the question itself, so a screen reader reads the stimulus once
// for the group rather than before every one of its questions.

import { languages } from "./i18n.js";
import { $ } from "./store.js";

/** @typedef {import("./types.js").ViewItem} ViewItem */

/**
 * A shared stimulus as an item's payload carries it (`stimuli`): its title and sanitized
 * body; the questions that share one carry the same `identifier`.
 * @typedef {object} CandidateStimulus
 * @property {string} identifier
 * @property {string} title
 * @property {string | null} language
 * @property {string} html
 */

/** What is on screen: the stimuli of the question shown last ("" for none). */
let shownKey = "";

/**
 * @param {CandidateStimulus[]} stimuli
 * @returns {string}
 */
function keyOf(stimuli) {
  return stimuli.map((s) => [s.identifier, s.title, s.html].join("\u0000")).join("\u0001");
}

/**
 * One stimulus as a region: its title as the heading, its body in its own language. It
 * scrolls on its own beside a long question, so it takes keyboard focus (tabindex 0) to
 * be scrolled without a pointer.
 * @param {CandidateStimulus} stimulus
 * @param {number} index
 */
function region(stimulus, index) {
  const section = document.createElement("section");
  section.className = "stimulus";
  section.tabIndex = 0;
  const heading = document.createElement("h2");
  heading.id = `item-stimulus-heading-${index}`;
  heading.className = "stimulus-title";
  heading.textContent = stimulus.title;
  section.setAttribute("aria-labelledby", heading.id);
  const body = document.createElement("div");
  body.className = "stimulus-body";
  body.innerHTML = stimulus.html; // sanitized on the server (content/render/candidate.py)
  body.lang = stimulus.language || "";
  body.dir = languages[stimulus.language ?? ""]?.dir ?? "auto";
  section.append(heading, body);
  return section;
}

/**
 * Show the stimuli of `item` beside its question; when the question shown before had the
 * same ones, they stay as they are.
 * @param {ViewItem} item
 * @returns {boolean} the same stimuli were on screen already (read with the question
 *   before): focus goes to the question, not to the top of the stimuli again
 */
export function renderStimuli(item) {
  const box = $("item-stimuli", HTMLElement);
  const stimuli = item.item.stimuli ?? [];
  box.closest(".item-area")?.classList.toggle("has-stimulus", stimuli.length > 0);
  box.hidden = stimuli.length === 0;
  const key = keyOf(stimuli);
  if (key === shownKey) return stimuli.length > 0;
  shownKey = key;
  box.replaceChildren(...stimuli.map(region));
  return false;
}

