// @ts-check
/**
 * Reports area: keeps the progress of scorecard runs that are queued or running live, by
 * reading `/api/v1/reports/jobs/{id}` every second until each is done. Without this script
 * the page shows the progress as of its loading, and reloading shows the rest.
 *
 * Its sentences come from the page's catalogue (the console's messages embedded in the
 * page), in the language the page is shown in.
 */

/** The player's catalogue module, served beside the player (the same origin and CSP). */
const I18N = "/static/player/i18n.js";
/** @type {typeof import("../../static/i18n.js")} */
const { t, nt, pt } = await import(I18N);

/** A run's state as a word (the server's value stays in the class name). */
/** @type {Record<string, string>} */
const STATES = {
  queued: pt("job state", "queued"),
  running: pt("job state", "running"),
  done: pt("job state", "done"),
  failed: pt("job state", "failed"),
};

/**
 * @typedef {object} Job
 * @property {string} state
 * @property {number} total
 * @property {number} done
 * @property {number} skipped
 * @property {string | null} download_url
 */

const EVERY_MS = 1000;

/** @param {HTMLTableRowElement} row */
async function follow(row) {
  const id = row.dataset.job;
  if (!id) return;
  const response = await fetch(`/api/v1/reports/jobs/${encodeURIComponent(id)}`, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) return;
  /** @type {Job} */
  const job = await response.json();
  const state = row.querySelector('[data-field="state"]');
  if (state) {
    state.textContent = STATES[job.state] ?? job.state;
    state.className = `tag tag-${job.state}`; // i18n: not shown
  }
  const bar = row.querySelector("progress");
  if (bar) {
    bar.max = Math.max(job.total, 1);
    bar.value = job.done + job.skipped;
    bar.textContent = t("{done} of {total}", { done: job.done, total: job.total });
  }
  const count = row.querySelector('[data-field="count"]');
  if (count) {
    count.textContent = job.skipped
      ? t("{done} of {total}, {skipped} skipped", { done: job.done, total: job.total, skipped: job.skipped })
      : t("{done} of {total}", { done: job.done, total: job.total });
  }
  const cell = row.querySelector('[data-field="download"]');
  if (cell && job.download_url) {
    const link = document.createElement("a");
    link.href = job.download_url;
    link.download = "";
    link.textContent = nt("ZIP of {count} scorecard", "ZIP of {count} scorecards", job.done, {
      count: job.done,
    });
    cell.replaceChildren(link);
  }
  if (job.state === "queued" || job.state === "running") {
    window.setTimeout(() => void follow(row), EVERY_MS);
  }
}

for (const row of document.querySelectorAll('tr[data-live="true"]')) {
  if (row instanceof HTMLTableRowElement) void follow(row);
}

export {};
