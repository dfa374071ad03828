// @ts-check
// Media: a sound or video the candidate plays; the response is how many times it was
// played (an integer, `null` before the first play), kept on the interaction's fieldset
// (`data-plays`) and saved like any answer when it changes. A play is counted when it
// starts from the beginning. With a play limit (`max_plays`) the browser's own controls,
// which could start it again, give way to a Play / Pause button that refuses a play past
// the limit; the count left is told beside it.

import { formatNumber, nt, t } from "./i18n.js";

/** @typedef {import("./types.js").InteractionDescription} InteractionDescription */
/** @typedef {import("./types.js").InteractionFamily} InteractionFamily */

/**
 * @param {HTMLElement} el
 */
function playsOf(el) {
  return Number(el.dataset.plays) || 0;
}

/**
 * Count one more play and save it.
 * @param {HTMLElement} el
 * @param {HTMLMediaElement} media
 */
function countPlay(el, media) {
  el.dataset.plays = String(playsOf(el) + 1);
  media.dispatchEvent(new Event("change", { bubbles: true }));
}

/**
 * What the line under the media says.
 * @param {number} plays
 * @param {number} limit  0: no limit
 */
function playsText(plays, limit) {
  if (!limit) {
    return plays
      ? nt("Played {count} time.", "Played {count} times.", plays, { count: formatNumber(plays) })
      : t("Not played yet. You may play it as often as you like.");
  }
  const left = Math.max(0, limit - plays);
  const played = nt("Played {count} time of {limit}.", "Played {count} times of {limit}.", plays,
    { count: formatNumber(plays), limit: formatNumber(limit) });
  const remaining = left
    ? nt("{count} time left.", "{count} times left.", left, { count: formatNumber(left) })
    : t("No plays left.");
  return `${played} ${remaining}`;
}

/**
 * A Play / Pause button in place of the browser's controls, for media with a play limit.
 * @param {HTMLElement} el
 * @param {HTMLMediaElement} media
 * @param {number} limit
 * @param {HTMLElement} note
 */
function limitedControls(el, media, limit, note) {
  media.controls = false;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "waa-media-play";
  if (note.id) button.setAttribute("aria-describedby", note.id);
  const fromStart = () => media.ended || media.currentTime === 0;
  const render = () => {
    const exhausted = playsOf(el) >= limit && fromStart() && media.paused;
    button.disabled = exhausted;
    button.textContent = !media.paused ? t("Pause") : exhausted ? t("No plays left") : fromStart() ? t("Play") : t("Resume");
    note.textContent = playsText(playsOf(el), limit);
  };
  button.addEventListener("click", () => {
    if (!media.paused) {
      media.pause();
      return;
    }
    if (fromStart()) {
      if (playsOf(el) >= limit) return;
      media.currentTime = 0;
      countPlay(el, media);
    }
    media.play().catch(() => { note.textContent = t("The recording could not be played. Please tell the person in charge."); });
  });
  for (const type of ["play", "pause", "ended"]) media.addEventListener(type, render);
  media.parentElement?.append(button);
  render();
}

/** @type {InteractionFamily} */
export const media = {
  types: ["media"],
  read(el) {
    return playsOf(el) || null;
  },
  write(el, _description, value) {
    el.dataset.plays = typeof value === "number" ? String(value) : "0";
  },
  enhance(el, description) {
    const player = el.querySelector("audio, video");
    const note = el.querySelector(".waa-media-plays");
    if (!(player instanceof HTMLMediaElement) || !(note instanceof HTMLElement)) return;
    note.setAttribute("aria-live", "polite");
    const limit = description.limits?.max_plays ?? 0;
    if (limit) {
      limitedControls(el, player, limit, note);
    } else {
      // The browser's controls: a play that starts at the beginning is counted.
      player.addEventListener("play", () => {
        if (player.currentTime < 0.5) countPlay(el, player);
        note.textContent = playsText(playsOf(el), 0);
      });
      note.textContent = playsText(playsOf(el), 0);
    }
    if (description.limits?.autostart && playsOf(el) === 0) {
      if (limit) el.querySelector("button.waa-media-play")?.dispatchEvent(new MouseEvent("click"));
      else player.play().catch(() => {}); // the browser may refuse to start it unasked
    }
  },
};
