// @ts-check
// Drawing: a canvas over the item's picture. A pointer (mouse, pen or finger, through pointer
// events) draws strokes; from the keyboard the canvas has a pen: the arrow keys move it (by
// 2% of the picture, Shift 10%), Space puts it down or lifts it, and moving it while down
// draws. Undo and Clear buttons take strokes back. The picture and the strokes are sent as a
// PNG file, as an upload is (`POST .../responses/{ref}/file`): two seconds after the last
// stroke, or at once with "Save drawing". The strokes are kept in this tab's
// sessionStorage, so the drawing is there again when the question is shown again; the
// response itself is the stored file (`read` gives `undefined`).

import { fetchView, uploadResponse } from "./api.js";
import { formatNumber, t } from "./i18n.js";
import { problemMessage } from "./messages.js";
import { changed, session, state } from "./store.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").Point} Point */
/** @typedef {import("./types.js").ViewItem} ViewItem */

const SAVE_PAUSE_MS = 2000;

/**
 * @typedef {object} Board
 * @property {HTMLCanvasElement} canvas
 * @property {CanvasRenderingContext2D} context
 * @property {HTMLImageElement} img
 * @property {Point[][]} strokes  in the picture's own pixels
 * @property {Point} pen  the keyboard pen's place
 * @property {boolean} down  the keyboard pen is down
 * @property {HTMLElement} status  a polite live region
 * @property {string} key  where the strokes are kept in sessionStorage
 * @property {number | null} timer  the pending save
 */

/**
 * Draw the picture (when the browser lets the canvas keep it), the strokes and the pen.
 * @param {Board} board
 * @param {boolean} [withPen]
 */
function paint(board, withPen = true) {
  const { canvas, context } = board;
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  if (board.img.complete && board.img.naturalWidth) context.drawImage(board.img, 0, 0, canvas.width, canvas.height);
  context.strokeStyle = "#1d4ed8";
  context.lineWidth = Math.max(2, canvas.width / 150);
  context.lineCap = "round";
  context.lineJoin = "round";
  for (const stroke of board.strokes) {
    context.beginPath();
    stroke.forEach(([x, y], n) => (n ? context.lineTo(x, y) : context.moveTo(x, y)));
    if (stroke.length === 1) context.lineTo(stroke[0][0] + 0.5, stroke[0][1] + 0.5);
    context.stroke();
  }
  if (withPen && document.activeElement === canvas) {
    const [x, y] = board.pen;
    const r = canvas.width / 60;
    context.strokeStyle = board.down ? "#c2410c" : "#111827";
    context.lineWidth = 2;
    context.beginPath();
    context.moveTo(x - r, y); context.lineTo(x + r, y);
    context.moveTo(x, y - r); context.lineTo(x, y + r);
    context.stroke();
  }
}

/**
 * "42% across, 17% down".
 * @param {Board} board
 * @param {Point} point
 */
function words(board, [x, y]) {
  const share = (/** @type {number} */ n) => formatNumber(n, { style: "percent", maximumFractionDigits: 0 });
  return t("{across} across, {down} down", { across: share(x / board.canvas.width), down: share(y / board.canvas.height) });
}

/** The name of the button that sends the drawing. */
const saveLabel = () => t("Save drawing");

/**
 * Where the pen is, for the status line.
 * @param {Board} board
 */
function penWords(board) {
  const where = words(board, board.pen);
  return board.down ? t("Pen down at {place}.", { place: where }) : t("Pen up at {place}.", { place: where });
}

/**
 * Send the drawing as a PNG file (the response).
 * @param {Board} board
 * @param {ViewItem} item
 */
async function save(board, item) {
  clearTimeout(board.timer ?? undefined);
  board.timer = null;
  const queue = state.queue;
  if (!queue || !board.strokes.length) return;
  if (!navigator.onLine) {
    board.status.textContent = t("You are offline. Your drawing is kept here and is sent when you press {button} again.", { button: saveLabel() });
    return;
  }
  paint(board, false);
  /** @type {Blob | null} */
  let blob = null;
  try {
    blob = await new Promise((resolve) => board.canvas.toBlob(resolve, "image/png"));
  } catch {
    blob = null; // a picture from elsewhere taints the canvas: nothing can be read back
  }
  paint(board);
  if (!blob) {
    board.status.textContent = t("The drawing could not be saved. Please tell the person in charge.");
    return;
  }
  const seq = queue.seqOf(item.ref) + 1;
  queue.observe(item.ref, seq);
  board.status.textContent = t("Saving your drawing…");
  try {
    const { attemptId } = session();
    const file = new File([blob], "drawing.png", { type: "image/png" });
    const reply = await uploadResponse(attemptId, item.ref, seq, file);
    if (!reply.ok) {
      board.status.textContent = problemMessage(reply.problem, "upload");
      return;
    }
    board.status.textContent = t("Your drawing is saved.");
    const view = await fetchView(attemptId);
    const stored = view?.items.find((i) => i.ref === item.ref);
    if (stored) item.response = stored.response;
    state.local.delete(item.ref);
    changed();
  } catch {
    board.status.textContent = t("The drawing was not saved because the connection dropped. Press {button} to try again.", { button: saveLabel() });
  }
}

/**
 * Keep the strokes in this tab and save a little after the last change.
 * @param {Board} board
 * @param {ViewItem} item
 */
function edited(board, item) {
  sessionStorage.setItem(board.key, JSON.stringify(board.strokes));
  paint(board);
  clearTimeout(board.timer ?? undefined);
  board.timer = setTimeout(() => void save(board, item), SAVE_PAUSE_MS);
}

/**
 * Where a pointer is on the canvas, in the picture's own pixels.
 * @param {Board} board
 * @param {PointerEvent} event
 * @returns {Point}
 */
function at(board, event) {
  const box = board.canvas.getBoundingClientRect();
  return [
    ((event.clientX - box.left) / (box.width || 1)) * board.canvas.width,
    ((event.clientY - box.top) / (box.height || 1)) * board.canvas.height,
  ];
}

/**
 * The keyboard pen: arrows move it (a line while it is down), Space puts it down or lifts it.
 * @param {Board} board
 * @param {ViewItem} item
 * @param {KeyboardEvent} event
 */
function onKey(board, item, event) {
  const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (event.key === " ") {
    event.preventDefault();
    board.down = !board.down;
    if (board.down) board.strokes.push([[...board.pen]]);
    board.status.textContent = penWords(board);
    edited(board, item);
    return;
  }
  const step = steps[/** @type {keyof typeof steps} */ (event.key)];
  if (!step) return;
  event.preventDefault();
  const share = event.shiftKey ? 0.1 : 0.02;
  const { width, height } = board.canvas;
  board.pen = [
    Math.max(0, Math.min(width, board.pen[0] + step[0] * share * width)),
    Math.max(0, Math.min(height, board.pen[1] + step[1] * share * height)),
  ];
  if (board.down) {
    board.strokes[board.strokes.length - 1].push([...board.pen]);
    edited(board, item);
  } else {
    paint(board);
  }
  board.status.textContent = penWords(board);
}

/**
 * @param {Board} board
 * @param {ViewItem} item
 */
function pointerDrawing(board, item) {
  const { canvas } = board;
  canvas.addEventListener("pointerdown", (down) => {
    if (down.button !== 0 || !down.isPrimary) return;
    down.preventDefault();
    canvas.focus();
    canvas.setPointerCapture(down.pointerId);
    const stroke = [at(board, down)];
    board.strokes.push(stroke);
    paint(board);
    /** @param {PointerEvent} move */
    const onMove = (move) => { stroke.push(at(board, move)); paint(board); };
    const onEnd = () => {
      canvas.removeEventListener("pointermove", onMove);
      canvas.removeEventListener("pointerup", onEnd);
      canvas.removeEventListener("pointercancel", onEnd);
      edited(board, item);
    };
    canvas.addEventListener("pointermove", onMove);
    canvas.addEventListener("pointerup", onEnd);
    canvas.addEventListener("pointercancel", onEnd);
  });
}

/**
 * @param {string} text
 * @param {() => void} action
 */
function button(text, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", action);
  return b;
}

/** @type {InteractionFamily} */
export const drawing = {
  types: ["drawing"],
  read() {
    return undefined;
  },
  write() {},
  enhance(el, description, { item, value }) {
    const img = el.querySelector(".waa-graphic img");
    const status = el.querySelector(".waa-drawing-state");
    if (!(img instanceof HTMLImageElement) || !(status instanceof HTMLElement)) return;
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d");
    if (!context) return;
    canvas.width = Number(description.graphic?.width) || Number(img.getAttribute("width")) || 400;
    canvas.height = Number(description.graphic?.height) || Number(img.getAttribute("height")) || 300;
    canvas.className = "waa-drawing-canvas";
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "application");
    canvas.setAttribute("aria-roledescription", t("drawing area"));
    canvas.setAttribute("aria-label", t("Drawing area over the picture: {picture}", { picture: img.alt }));
    const hint = document.createElement("p");
    hint.className = "waa-dnd-hint";
    hint.id = `${el.id}-drawing-hint`;
    hint.textContent = t("Draw on the picture with the mouse, a pen or a finger. With the keyboard: move the pen with the arrow keys (hold Shift for bigger steps) and press Space to put it down or lift it.");
    canvas.setAttribute("aria-describedby", hint.id);
    status.setAttribute("role", "status");
    const key = `waa-player:drawing:${session().attemptId}:${item.ref}`;
    /** @type {Point[][]} */
    let strokes = [];
    try { strokes = JSON.parse(sessionStorage.getItem(key) ?? "[]"); } catch { strokes = []; }
    /** @type {Board} */
    const board = { canvas, context, img, strokes, pen: [canvas.width / 2, canvas.height / 2], down: false, status, key, timer: null };
    const name = value && typeof value === "object" && !Array.isArray(value) && typeof value.name === "string" ? value.name : "";
    status.textContent = name ? t("Your drawing is saved.") : t("Nothing drawn yet.");
    img.hidden = true;
    img.after(canvas);
    const tools = document.createElement("div");
    tools.className = "waa-drawing-tools";
    tools.append(
      button(t("Undo"), () => { board.strokes.pop(); board.down = false; edited(board, item); }),
      button(t("Clear"), () => { board.strokes = []; board.down = false; edited(board, item); status.textContent = t("Drawing cleared."); }),
      button(saveLabel(), () => void save(board, item)),
    );
    canvas.parentElement?.before(hint);
    canvas.parentElement?.after(tools);
    canvas.addEventListener("keydown", (event) => onKey(board, item, event));
    canvas.addEventListener("focus", () => paint(board));
    canvas.addEventListener("blur", () => paint(board));
    pointerDrawing(board, item);
    if (img.complete) paint(board);
    else img.addEventListener("load", () => paint(board), { once: true });
  },
};
