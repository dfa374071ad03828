// @ts-check
/**
 * The item page's preview, answered as a candidate would answer it.
 *
 * The server puts the candidate's HTML of the item in the page (what the preview API
 * returns, exactly what the player inserts) and its description in `data-item`. This
 * module loads the player's own interaction code (`/static/player/interactions.js`) to
 * add each interaction's behaviour (clicking a picture, dragging, a slider's value) and,
 * on every change, reads the controls into responses, written as JSON into the "try a
 * response" field. Without it the page still works: the field is written by hand, or the
 * simple controls are read on the server.
 */

/** @typedef {import("../../static/types.js").CandidateItem} CandidateItem */
/** @typedef {import("../../static/types.js").ResponseValue} ResponseValue */
/** @typedef {import("../../static/types.js").ViewItem} ViewItem */

/** The player's module, served beside the player (the same origin and CSP). */
const PLAYER_INTERACTIONS = "/static/player/interactions.js";
const PLAYER_TERMS = "/static/player/catalog.js";

async function preview() {
  const root = document.getElementById("item-preview");
  const field = document.getElementById("responses");
  if (!(root instanceof HTMLElement) || !(field instanceof HTMLTextAreaElement)) return;
  /** @type {CandidateItem} */
  const item = JSON.parse(root.dataset["item"] || "{}");
  if (!Array.isArray(item.interactions)) return;
  /** @type {typeof import("../../static/interactions.js")} */
  const player = await import(PLAYER_INTERACTIONS);
  // Uploads go to an attempt, which a preview has none of: their controls stay as they are.
  const shown = item.interactions.filter((d) => d.type !== "upload");
  /** @type {ViewItem} */
  const view = { ref: "preview", position: 1, item: { ...item, interactions: shown }, response: null };
  /** @type {ResponseValue} */
  let tried = null;
  try {
    tried = field.value.trim() ? JSON.parse(field.value) : null;
  } catch {
    tried = null; // not JSON: the refusal beside the field says so
  }
  if (tried && typeof tried === "object" && !Array.isArray(tried)) {
    // The response just tried, shown in the controls again.
    const byId = /** @type {{[identifier: string]: ResponseValue}} */ (tried);
    const single = shown.length === 1 ? shown[0] : undefined;
    player.writeItem(root, shown, single ? (byId[single.response_identifier] ?? null) : byId);
  }
  player.enhanceItem(root, view, null);
  let typedByHand = false;
  field.addEventListener("input", () => {
    typedByHand = field.value.trim() !== "";
  });

  const write = () => {
    if (typedByHand) return;
    /** @type {{[identifier: string]: ResponseValue}} */
    const responses = {};
    for (const description of shown) {
      let value;
      try {
        value = player.readInteraction(root, description);
      } catch {
        continue; // a point being typed: read on the next change
      }
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value) && value.length === 0) continue;
      responses[description.response_identifier] = value;
    }
    field.value = JSON.stringify(responses);
  };
  // Answers given before this module was loaded.
  if (!field.value.trim()) write();
  root.addEventListener("input", write);
  root.addEventListener("change", write);
  // Markers and drags set the controls' values from script, which fires no event.
  root.addEventListener("pointerup", () => window.setTimeout(write, 0));
  root.addEventListener("keyup", () => window.setTimeout(write, 0));
}

/** Glossary terms and Help buttons in the preview open and close their card as in the
 * player; a braille text is labelled as there. */
async function glossary() {
  if (!document.querySelector("#item-preview :is(.waa-term-button, .waa-braille)")) return;
  /** @type {typeof import("../../static/catalog.js")} */
  const terms = await import(PLAYER_TERMS);
  terms.wireTerms();
}

void preview();
void glossary();
