// @ts-check
// Webcam stills, when the test's integrity policy asks for them (docs/integrity.md,
// "Webcam frames"). The candidate is asked first, in a modal dialog that says what is
// taken, how often and for how long it is kept; only after "Allow" does the browser ask
// for the camera. Then a still (640x480 JPEG from a canvas) is sent every `interval_s`
// seconds to `POST /api/v1/integrity/candidate/attempts/{id}/frames`. "Don't allow", a
// refused browser permission and no camera at all are reported to
// `POST .../camera`; the policy decides whether the test goes on or waits for a proctor.

import { request } from "./api.js";
import { t } from "./i18n.js";
import { $, state } from "./store.js";

/**
 * @typedef {object} Camera
 * @property {boolean} frames
 * @property {number} interval_s
 * @property {number} retention_days
 * @property {string} without_camera
 * @property {string | null} consent_text
 * @property {string | null} consent
 * @property {boolean} paused
 */

const BASE = "/api/v1/integrity/candidate/attempts";

/** @type {{ stream: MediaStream | null, timer: number | null, attemptId: string | null }} */
const running = { stream: null, timer: null, attemptId: null };

const dialog = () => $("camera-dialog", HTMLDialogElement);

/**
 * @param {string} attemptId
 * @returns {Promise<Camera | null>}
 */
async function readCamera(attemptId) {
  const response = await request(`${BASE}/${attemptId}/camera`);
  return response.ok ? /** @type {Camera} */ (await response.json()) : null;
}

/**
 * Tell the server the candidate's answer; the reply says whether the attempt now waits.
 * @param {string} attemptId
 * @param {"given" | "refused" | "unavailable"} consent
 * @returns {Promise<Camera | null>}
 */
async function answer(attemptId, consent) {
  const response = await request(`${BASE}/${attemptId}/camera`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ consent }),
  });
  return response.ok ? /** @type {Camera} */ (await response.json()) : null;
}

/**
 * Ask in the dialog; resolves with the candidate's choice.
 * @param {Camera} camera
 * @returns {Promise<boolean>}
 */
function ask(camera) {
  $("camera-text").textContent = camera.consent_text ?? "";
  $("camera-consequence").textContent = camera.without_camera === "proctor"
    ? t("Without the camera the test waits until a proctor lets you continue.")
    : t("You may take the test without the camera; the people who review it will see that you did.");
  return new Promise((resolve) => {
    const allow = $("camera-allow", HTMLButtonElement);
    const deny = $("camera-deny", HTMLButtonElement);
    /** @param {boolean} choice */
    const done = (choice) => {
      allow.removeEventListener("click", onAllow);
      deny.removeEventListener("click", onDeny);
      dialog().removeEventListener("cancel", onCancel);
      dialog().close();
      resolve(choice);
    };
    const onAllow = () => done(true);
    const onDeny = () => done(false);
    /** @param {Event} event */
    const onCancel = (event) => { event.preventDefault(); }; // Escape does not answer for them
    allow.addEventListener("click", onAllow);
    deny.addEventListener("click", onDeny);
    dialog().addEventListener("cancel", onCancel);
    dialog().showModal();
    allow.focus();
  });
}

/** Stop taking stills (the attempt ended, or another one opened in this tab). */
export function stopCamera() {
  if (running.timer !== null) clearInterval(running.timer);
  running.timer = null;
  running.stream?.getTracks().forEach((track) => track.stop());
  running.stream = null;
  running.attemptId = null;
  $("camera-status").hidden = true;
}

/**
 * One still from the running camera, as a JPEG.
 * @param {HTMLVideoElement} video
 * @returns {Promise<Blob | null>}
 */
function still(video) {
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const context = canvas.getContext("2d");
  if (!context || video.videoWidth === 0) return Promise.resolve(null);
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
}

/**
 * @param {string} attemptId
 * @param {HTMLVideoElement} video
 */
async function send(attemptId, video) {
  if (state.ended || running.attemptId !== attemptId) { stopCamera(); return; }
  const blob = await still(video);
  if (!blob) return;
  try {
    const response = await request(`${BASE}/${attemptId}/frames`, {
      method: "POST",
      headers: { "Content-Type": "image/jpeg" },
      body: blob,
    });
    // 409: the attempt is paused or over; the next tick (or the end) decides.
    if (response.status === 404 || response.status === 410) stopCamera();
  } catch {
    // Offline: this still is skipped; the next one is taken on time.
  }
}

/**
 * @param {string} attemptId
 * @param {MediaStream} stream
 * @param {number} intervalS
 */
async function capture(attemptId, stream, intervalS) {
  running.stream = stream;
  running.attemptId = attemptId;
  const video = $("camera-video", HTMLVideoElement);
  video.srcObject = stream;
  await video.play().catch(() => undefined);
  $("camera-status").hidden = false;
  running.timer = window.setInterval(() => { void send(attemptId, video); }, intervalS * 1000);
  // The first still once the picture has settled.
  window.setTimeout(() => { void send(attemptId, video); }, 1500);
}

/**
 * Start the camera for an attempt whose policy takes stills: ask first (once per attempt),
 * then capture. `onPaused` runs when the answer made the attempt wait for a proctor.
 * @param {string} attemptId
 * @param {{ onPaused: () => void | Promise<void> }} hooks
 */
export async function startCamera(attemptId, hooks) {
  if (running.attemptId === attemptId) return;
  stopCamera();
  let camera;
  try {
    camera = await readCamera(attemptId);
  } catch {
    return;
  }
  if (!camera || !camera.frames || camera.consent === "refused" || camera.consent === "unavailable") return;
  if (camera.consent !== "given" && !(await ask(camera))) {
    const reply = await answer(attemptId, "refused");
    if (reply?.paused) await hooks.onPaused();
    return;
  }
  /** @type {MediaStream} */
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) {
    const refused = error instanceof DOMException && error.name === "NotAllowedError";
    const reply = await answer(attemptId, refused ? "refused" : "unavailable");
    if (reply?.paused) await hooks.onPaused();
    return;
  }
  if (camera.consent !== "given") await answer(attemptId, "given");
  await capture(attemptId, stream, camera.interval_s);
}
