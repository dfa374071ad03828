// Reading a candidate's response out of the rendered item (the form controls that the
// server's candidate view produced) into the documented response shapes
// (docs/response-shapes.md), and writing a stored response back into the controls.
// Values are always the item's own identifiers, never positions on screen.

/** The element that holds an interaction's controls (a fieldset, or the control itself). */
export function interactionElement(root, description) {
  return root.querySelector(`#${CSS.escape(description.dom_id)}`);
}

function controls(el, selector) {
  return Array.from(el.querySelectorAll(selector));
}

function scalar(description, raw) {
  if (description.base_type === "boolean") return raw === "true";
  return raw;
}

function selection(description, el) {
  const checked = controls(el, "input:checked").map((i) => scalar(description, i.value));
  if (description.cardinality === "single") return checked.length ? checked[0] : null;
  return checked;
}

function parsePoint(text) {
  const match = /^\s*(-?\d+)\s*[ ,;]\s*(-?\d+)\s*$/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** The response of one interaction, in its shape; ``null`` is no response. Throws an
 * Error with a message for the candidate when a typed value cannot be read (a point). */
export function readInteraction(root, description) {
  const el = interactionElement(root, description);
  if (!el) return null;
  switch (description.type) {
    case "choice":
    case "hottext":
    case "hotspot":
      return selection(description, el);
    case "text_entry":
    case "numeric_entry":
      return el.value === "" ? null : el.value;
    case "inline_choice":
      return el.value === "" ? null : scalar(description, el.value);
    case "order": {
      const ranked = controls(el, "select[data-choice]")
        .filter((s) => s.value !== "")
        .map((s) => [Number(s.value), s.dataset.choice]);
      ranked.sort((a, b) => a[0] - b[0]);
      return ranked.map((r) => r[1]);
    }
    case "match":
      return controls(el, "input[type=checkbox]:checked").map((i) => i.value);
    case "associate": {
      const pairs = new Map();
      for (const select of controls(el, "select")) {
        const list = pairs.get(select.name) ?? [];
        list.push(select.value);
        pairs.set(select.name, list);
      }
      return Array.from(pairs.values())
        .filter(([a, b]) => a && b && a !== b)
        .map(([a, b]) => `${a} ${b}`);
    }
    case "gap_match":
      return controls(el, "select[data-gap]")
        .filter((s) => s.value !== "")
        .map((s) => `${s.value} ${s.dataset.gap}`);
    case "select_point": {
      const points = [];
      for (const input of controls(el, "input[type=text]")) {
        if (input.value.trim() === "") continue;
        const point = parsePoint(input.value);
        if (!point) throw new Error("Write a point as two whole numbers, x then y, e.g. 120 45.");
        points.push(point);
      }
      if (description.cardinality === "single") return points.length ? points[0] : null;
      return points;
    }
    case "extended_text": {
      const texts = controls(el, "textarea").map((t) => t.value);
      if (description.cardinality === "single") return texts[0] ? texts[0] : null;
      return texts.filter((t) => t !== "");
    }
    case "slider": {
      const input = el.querySelector("input[type=range]");
      if (!input || input.dataset.touched !== "true") return null;
      return description.base_type === "integer" ? Math.round(Number(input.value)) : Number(input.value);
    }
    case "upload":
      // An upload's response is set by the server once the file is stored.
      return undefined;
    default:
      return undefined;
  }
}

/** The item's response: a bare value for one interaction, an object keyed by response
 * identifier for several (no key for an unanswered one). ``undefined`` when the item's
 * response cannot be read from the controls (uploads). */
export function readItem(root, interactions) {
  if (interactions.length === 1) return readInteraction(root, interactions[0]);
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

function asPair(entry) {
  return Array.isArray(entry) ? entry : String(entry).split(/\s+/);
}

function asList(value) {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Show a stored response in the controls of one interaction. */
export function writeInteraction(root, description, value) {
  const el = interactionElement(root, description);
  if (!el || value === undefined) return;
  switch (description.type) {
    case "choice":
    case "hottext":
    case "hotspot": {
      const wanted = new Set(asList(value).map(String));
      for (const input of controls(el, "input")) input.checked = wanted.has(input.value);
      break;
    }
    case "text_entry":
    case "numeric_entry":
    case "inline_choice":
      el.value = value === null ? "" : String(value);
      break;
    case "order": {
      const order = asList(value);
      for (const select of controls(el, "select[data-choice]")) {
        const at = order.indexOf(select.dataset.choice);
        select.value = at >= 0 ? String(at + 1) : "";
      }
      break;
    }
    case "match": {
      const wanted = new Set(asList(value).map((p) => asPair(p).join(" ")));
      for (const input of controls(el, "input[type=checkbox]")) input.checked = wanted.has(input.value);
      break;
    }
    case "associate": {
      const pairs = asList(value).map(asPair);
      const names = [];
      for (const select of controls(el, "select")) {
        if (!names.includes(select.name)) names.push(select.name);
      }
      names.forEach((name, n) => {
        const selects = controls(el, "select").filter((s) => s.name === name);
        const pair = pairs[n] ?? ["", ""];
        selects.forEach((s, side) => { s.value = pair[side] ?? ""; });
      });
      break;
    }
    case "gap_match": {
      const byGap = new Map(asList(value).map((p) => { const [c, g] = asPair(p); return [g, c]; }));
      for (const select of controls(el, "select[data-gap]")) select.value = byGap.get(select.dataset.gap) ?? "";
      break;
    }
    case "select_point": {
      const points = description.cardinality === "single" ? (value ? [value] : []) : asList(value);
      controls(el, "input[type=text]").forEach((input, n) => {
        const point = points[n];
        input.value = point ? asPair(point).join(" ") : "";
      });
      break;
    }
    case "extended_text": {
      const texts = Array.isArray(value) ? value : [value ?? ""];
      controls(el, "textarea").forEach((area, n) => { area.value = texts[n] ?? ""; });
      break;
    }
    case "slider": {
      const input = el.querySelector("input[type=range]");
      if (input && value !== null) {
        input.value = String(value);
        input.dataset.touched = "true";
      }
      break;
    }
    case "upload":
      break;
    default:
      break;
  }
}

/** Show a stored item response (bare, or keyed by response identifier) in the controls. */
export function writeItem(root, interactions, value) {
  if (value === null || value === undefined) return;
  if (interactions.length === 1) {
    writeInteraction(root, interactions[0], value);
    return;
  }
  for (const description of interactions) {
    writeInteraction(root, description, value[description.response_identifier] ?? null);
  }
}

/** Whether a response counts as given (for the question list and the review screen). */
export function isAnswered(value) {
  if (value === null || value === undefined || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") {
    if ("sha256" in value) return true;
    return Object.values(value).some(isAnswered);
  }
  return true;
}

// --- pictures: clicking instead of choosing from the list -----------------------------------

function inside(shape, coords, x, y) {
  if (shape === "rect") {
    const [x1, y1, x2, y2] = coords;
    return x >= Math.min(x1, x2) && x <= Math.max(x1, x2) && y >= Math.min(y1, y2) && y <= Math.max(y1, y2);
  }
  if (shape === "circle") {
    const [cx, cy, r] = coords;
    return (x - cx) ** 2 + (y - cy) ** 2 <= r ** 2;
  }
  if (shape === "ellipse") {
    const [cx, cy, rx, ry] = coords;
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  }
  if (shape === "poly") {
    let hit = false;
    for (let i = 0, j = coords.length - 2; i < coords.length; j = i, i += 2) {
      const [xi, yi, xj, yj] = [coords[i], coords[i + 1], coords[j], coords[j + 1]];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }
  return false;
}

/** The point clicked on a picture, in the picture's own pixels (its width and height
 * attributes), whatever size it is drawn at. */
function pictureCoordinates(img, event) {
  const box = img.getBoundingClientRect();
  // The content box: borders (if a stylesheet adds any) are not part of the picture.
  const left = box.left + img.clientLeft;
  const top = box.top + img.clientTop;
  const shownWidth = img.clientWidth || box.width;
  const shownHeight = img.clientHeight || box.height;
  const width = Number(img.getAttribute("width")) || img.naturalWidth || shownWidth;
  const height = Number(img.getAttribute("height")) || img.naturalHeight || shownHeight;
  return [
    Math.round(((event.clientX - left) / shownWidth) * width),
    Math.round(((event.clientY - top) / shownHeight) * height),
  ];
}

/** Make the pictures of hotspot and select-point interactions clickable. The labelled
 * controls next to each picture stay the keyboard (and screen reader) way to answer;
 * a click only fills them in, and the usual change event saves it. */
export function enhancePictures(root, interactions) {
  for (const description of interactions) {
    if (description.type !== "hotspot" && description.type !== "select_point") continue;
    const el = interactionElement(root, description);
    const img = el?.querySelector(".waa-graphic img");
    if (!img) continue;
    img.classList.add("clickable");
    img.addEventListener("click", (event) => {
      const [x, y] = pictureCoordinates(img, event);
      if (description.type === "hotspot") {
        const hit = controls(el, "input[data-coords]").find((input) =>
          inside(input.dataset.shape, input.dataset.coords.split(",").map(Number), x, y));
        if (!hit) return;
        hit.checked = hit.type === "radio" ? true : !hit.checked;
        hit.dispatchEvent(new Event("change", { bubbles: true }));
        hit.focus();
      } else {
        const fields = controls(el, "input[type=text]");
        const target = fields.find((f) => f.value.trim() === "") ?? fields[fields.length - 1];
        target.value = `${x} ${y}`;
        target.dispatchEvent(new Event("change", { bubbles: true }));
        target.focus();
      }
    });
  }
}

/** Keep each slider's visible value next to it, and remember that it was moved (a slider
 * that was never moved is no response, not its starting value). */
export function enhanceSliders(root) {
  for (const input of root.querySelectorAll(".waa-slider input[type=range]")) {
    const output = input.parentElement.querySelector("output");
    const show = () => { if (output) output.textContent = input.dataset.touched === "true" ? input.value : "not set"; };
    input.addEventListener("input", () => { input.dataset.touched = "true"; show(); });
    show();
  }
}
