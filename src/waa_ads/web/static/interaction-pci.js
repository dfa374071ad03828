// @ts-check
// Portable custom interactions (PCI): the item's own code runs in a sandboxed frame of this
// origin's host page (static/pci-frame.js; scripts, but no same origin: it cannot reach
// the player, its token or its storage). The player sends the frame what it needs (the
// description, the candidate's response so far as QTI's JSON binding, the PCI's saved
// state) and receives the PCI's response and state after each thing the candidate does.
// The response is checked against the declared cardinality and base type, converted to
// the player's response shape, kept on the interaction's element (`data-pci-value`) and
// saved like any answer. The state is kept in this browser's session storage, so a
// reload gives it back to the PCI (`getState`); the saved response (`boundTo`) does that
// too on another device.

import { locale, t } from "./i18n.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */

/** The QTI JSON binding's key of each base type. */
const JSON_KEYS = /** @type {Record<string, string>} */ ({
  identifier: "identifier", boolean: "boolean", integer: "integer", float: "float",
  string: "string", point: "point", pair: "pair", directedPair: "directedPair",
  duration: "duration", uri: "uri", intOrIdentifier: "intOrIdentifier",
});

/**
 * Whether one value fits a base type.
 * @param {unknown} value
 * @param {string} baseType
 */
function fits(value, baseType) {
  switch (baseType) {
    case "integer": return Number.isInteger(value);
    case "float": case "duration": return typeof value === "number" && Number.isFinite(value);
    case "boolean": return typeof value === "boolean";
    case "point": return Array.isArray(value) && value.length === 2 && value.every(Number.isInteger);
    case "pair": case "directedPair":
      return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string");
    case "intOrIdentifier": return Number.isInteger(value) || typeof value === "string";
    default: return typeof value === "string";
  }
}

/**
 * A PCI's response (QTI JSON binding) in the player's shape; throws when it does not fit.
 * @param {any} binding
 * @param {InteractionDescription} description
 * @returns {ResponseValue}
 */
export function fromBinding(binding, description) {
  const baseType = description.base_type ?? "";
  const key = JSON_KEYS[baseType];
  if (binding === null || binding === undefined || !key) return null;
  if (typeof binding !== "object") throw new Error("not a JSON binding"); // i18n: not shown
  if (description.cardinality === "single") {
    const base = binding.base;
    if (base === null || base === undefined) return null;
    if (typeof base !== "object" || !(key in base) || !fits(base[key], baseType)) {
      throw new Error(`expected {base: {${key}: ...}}`); // i18n: not shown
    }
    return base[key];
  }
  const list = binding.list;
  if (list === null || list === undefined) return null;
  const values = list[key];
  if (!Array.isArray(values) || !values.every((v) => fits(v, baseType))) {
    throw new Error(`expected {list: {${key}: [...]}}`); // i18n: not shown
  }
  return values.length ? values : null;
}

/**
 * A stored response as the QTI JSON binding the PCI is given (`boundTo`).
 * @param {ResponseValue | undefined} value
 * @param {InteractionDescription} description
 */
export function toBinding(value, description) {
  const key = JSON_KEYS[description.base_type ?? ""];
  if (!key) return null;
  if (description.cardinality === "single") {
    return { base: value === null || value === undefined ? null : { [key]: value } };
  }
  return { list: { [key]: Array.isArray(value) ? value : [] } };
}

/** @param {HTMLElement} el */
function valueOf(el) {
  const text = el.dataset.pciValue;
  return text ? /** @type {ResponseValue} */ (JSON.parse(text)) : null;
}

/**
 * Where this browser keeps the PCI's state for the shown item.
 * @param {string} ref
 * @param {InteractionDescription} description
 */
function stateKey(ref, description) {
  return `waa-pci-state:${location.pathname}:${ref}:${description.response_identifier}`;
}

/** @type {InteractionFamily} */
export const pci = {
  types: ["portable_custom"],
  read(el) {
    return valueOf(el);
  },
  write(el, _description, value) {
    el.dataset.pciValue = value === null || value === undefined ? "" : JSON.stringify(value);
  },
  enhance(el, description, shown) {
    const frame = el.querySelector("iframe.waa-pci-frame");
    if (!(frame instanceof HTMLIFrameElement) || !description.pci) return;
    const key = stateKey(shown.item.ref, description);
    const problem = document.createElement("p");
    problem.className = "waa-pci-problem";
    problem.setAttribute("role", "status");
    el.append(problem);
    /** @param {MessageEvent} event */
    const onMessage = (event) => {
      if (!el.isConnected) {
        window.removeEventListener("message", onMessage);
        return;
      }
      // Only the frame's own window, whose sandbox gives it the opaque origin "null".
      if (event.source !== frame.contentWindow || event.origin !== "null") return;
      const data = event.data;
      if (!data || data.waa !== "pci") return;
      if (data.kind === "height" && Number.isFinite(data.height)) {
        frame.style.height = `${Math.min(Math.max(data.height, 80), 2000)}px`;
      } else if (data.kind === "problem") {
        problem.textContent = t("This question could not be loaded. Please tell the person in charge.");
      } else if (data.kind === "response") {
        let value;
        try {
          value = fromBinding(data.response, description);
        } catch {
          problem.textContent = t("This answer could not be read. Please tell the person in charge.");
          return;
        }
        problem.textContent = "";
        if (typeof data.state === "string") {
          try { sessionStorage.setItem(key, data.state); } catch { /* storage full or off */ }
        }
        if (JSON.stringify(value) === JSON.stringify(valueOf(el))) return;
        pci.write(el, description, value);
        el.dispatchEvent(new Event("change", { bubbles: true }));
      }
    };
    window.addEventListener("message", onMessage);
    frame.addEventListener("load", () => {
      let state = null;
      try { state = sessionStorage.getItem(key); } catch { state = null; }
      // The frame's origin is opaque: "*" is the only target that reaches it; what is sent
      // is the candidate's own response and the item's description, never the key.
      frame.contentWindow?.postMessage({
        waa: "pci",
        kind: "init",
        description,
        boundTo: toBinding(shown.value ?? valueOf(el), description),
        state,
        language: locale,
        title: frame.title,
        problem: t("This question could not be loaded. Please tell the person in charge."),
      }, "*");
    });
  },
};
