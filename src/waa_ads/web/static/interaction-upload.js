// @ts-check
// File upload: the file is sent at once (`POST .../responses/{ref}/file`), never queued,
// so it needs the network; the server stores it and sets the response to the file's
// description. The controls cannot be read into a response (`read` gives `undefined`).

import { uploadResponse, fetchView } from "./api.js";
import { t } from "./i18n.js";

import { problemMessage } from "./messages.js";
import { changed, session, state } from "./store.js";
import { renderSaveState } from "./ui.js";

/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */
/** @typedef {import("./types.js").ViewItem} ViewItem */

/**
 * The name of a stored file, if the value is one.
 * @param {ResponseValue | undefined} value
 */
function fileName(value) {
  if (value && typeof value === "object" && !Array.isArray(value) && typeof value.name === "string") {
    return value.name;
  }
  return "";
}

/**
 * @param {ViewItem} item
 * @param {HTMLInputElement} input
 * @param {HTMLElement} note  the live region that says what happened
 */
async function upload(item, input, note) {
  const file = input.files?.[0];
  const queue = state.queue;
  if (!file || !queue) return;
  if (!navigator.onLine) {
    note.textContent = t("You are offline. Choose the file again when the connection is back.");
    return;
  }
  const seq = queue.seqOf(item.ref) + 1;
  queue.observe(item.ref, seq);
  note.textContent = t("Uploading {file}…", { file: file.name });
  try {
    const { attemptId } = session();
    const reply = await uploadResponse(attemptId, item.ref, seq, file);
    if (!reply.ok) {
      note.textContent = problemMessage(reply.problem, "upload");
      return;
    }
    note.textContent = t("Uploaded: {file}", { file: file.name });
    const view = await fetchView(attemptId);
    const stored = view?.items.find((i) => i.ref === item.ref);
    if (stored) item.response = stored.response;
    state.local.delete(item.ref);
    changed();
    renderSaveState({ pending: queue.queue.length, saving: false, offline: false });
  } catch {
    note.textContent = t("The upload failed because the connection dropped. Choose the file again.");
  }
}

/** @type {InteractionFamily} */
export const fileUpload = {
  types: ["upload"],
  read() {
    return undefined;
  },
  write() {},
  enhance(el, _description, { item, value }) {
    for (const input of el.querySelectorAll("input[type=file]")) {
      if (!(input instanceof HTMLInputElement)) continue;
      const note = document.createElement("p");
      note.className = "upload-state";
      note.setAttribute("aria-live", "polite");
      const name = fileName(value);
      note.textContent = name ? t("Uploaded: {file}", { file: name }) : t("No file uploaded yet.");
      input.insertAdjacentElement("afterend", note);
      input.setAttribute("aria-describedby", `${input.id}-state`);
      note.id = `${input.id}-state`;
      input.addEventListener("change", () => upload(item, input, note));
    }
  },
};
