// @ts-check
// Responses in and out of a rendered item. The server renders each interaction as labelled
// form controls and describes it (type, response identifier, cardinality, base type, the
// `dom_id` of its controls); one module per interaction family reads those controls into
// the documented response shapes (docs/response-shapes.md), writes a stored response back
// and adds behaviour (clicks on pictures, a slider's value, uploads). Values are always
// the item's own identifiers, never positions on screen.

import { choice } from "./interaction-choice.js";
import { interactionElement } from "./interaction-controls.js";
import { drawing } from "./interaction-drawing.js";
import { endAttempt } from "./interaction-end-attempt.js";
import { graphic } from "./interaction-graphic.js";
import { media } from "./interaction-media.js";
import { pairs } from "./interaction-pairs.js";
import { pci } from "./interaction-pci.js";
import { slider } from "./interaction-slider.js";
import { text } from "./interaction-text.js";
import { fileUpload } from "./interaction-upload.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").InteractionType} InteractionType */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */
/** @typedef {import("./types.js").ViewItem} ViewItem */

const ALL = [choice, text, pairs, graphic, slider, fileUpload, endAttempt, media, drawing, pci];

/** @type {Map<InteractionType, InteractionFamily>} */
const FAMILIES = new Map(ALL.flatMap((family) => family.types.map((type) => [type, family])));

/** Types answered by typing (saved after a pause in typing rather than at once). */
const TYPED = new Set(ALL.flatMap((family) => family.typed ?? []));

/**
 * Whether an interaction type is answered by typing.
 * @param {string | undefined} type
 */
export function isTyped(type) {
  return TYPED.has(/** @type {InteractionType} */ (type));
}

/**
 * The response of one interaction, in its shape; `null` is no response. Throws an Error
 * with a message for the candidate when a typed value cannot be read (a point).
 * @param {ParentNode} root
 * @param {InteractionDescription} description
 * @returns {ResponseValue | undefined}
 */
export function readInteraction(root, description) {
  const el = interactionElement(root, description);
  if (!el) return null;
  return FAMILIES.get(description.type)?.read(el, description);
}

/**
 * The item's response: a bare value for one interaction, an object keyed by response
 * identifier for several (no key for an unanswered one). `undefined` when the item's
 * response cannot be read from the controls (uploads).
 * @param {ParentNode} root
 * @param {InteractionDescription[]} interactions
 * @returns {ResponseValue | undefined}
 */
export function readItem(root, interactions) {
  if (interactions.length === 1) return readInteraction(root, interactions[0]);
  /** @type {{[identifier: string]: ResponseValue}} */
  const value = {};
  for (const description of interactions) {
    const one = readInteraction(root, description);
    if (one === undefined) return undefined;
    if (one !== null && !(Array.isArray(one) && one.length === 0)) {
      value[description.response_identifier] = one;
    }
  }
  return value;
}

/**
 * One interaction's part of an item's response.
 * @param {InteractionDescription[]} interactions
 * @param {InteractionDescription} description
 * @param {ResponseValue | undefined} value
 * @returns {ResponseValue | undefined}
 */
function partOf(interactions, description, value) {
  if (interactions.length === 1 || value === null || value === undefined) return value;
  if (typeof value !== "object" || Array.isArray(value)) return null;
  return /** @type {{[identifier: string]: ResponseValue}} */ (value)[description.response_identifier] ?? null;
}

/**
 * Show a stored item response (bare, or keyed by response identifier) in the controls.
 * @param {ParentNode} root
 * @param {InteractionDescription[]} interactions
 * @param {ResponseValue | undefined} value
 */
export function writeItem(root, interactions, value) {
  if (value === null || value === undefined) return;
  for (const description of interactions) {
    const el = interactionElement(root, description);
    const part = partOf(interactions, description, value);
    if (el && part !== undefined) FAMILIES.get(description.type)?.write(el, description, part);
  }
}

/**
 * Add each interaction's behaviour to the controls of the item just shown.
 * @param {ParentNode} root
 * @param {ViewItem} item
 * @param {ResponseValue} value  the item's response as shown
 */
export function enhanceItem(root, item, value) {
  const { interactions } = item.item;
  for (const description of interactions) {
    const el = interactionElement(root, description);
    const family = FAMILIES.get(description.type);
    if (el && family?.enhance) {
      family.enhance(el, description, { item, value: partOf(interactions, description, value) });
    }
  }
}

/**
 * Whether a response counts as given (for the question list and the review screen).
 * @param {ResponseValue | undefined} value
 * @returns {boolean}
 */
export function isAnswered(value) {
  if (value === null || value === undefined || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") {
    if ("sha256" in value) return true;
    return Object.values(value).some(isAnswered);
  }
  return true;
}
