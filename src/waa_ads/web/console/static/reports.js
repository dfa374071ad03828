// @ts-check
/**
 * Reports area: keeps the progress of scorecard runs that are queued or running live, by
 * reading `/api/v1/reports/jobs/{id}` every second until each is done. Without this script
 * the page shows the progress as of its loading, and reloading shows the rest.
 */

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
    state.textContent = job.state;
    state.className = `tag tag-${job.state}`;
  }
  const bar = row.querySelector("progress");
  if (bar) {
    bar.max = Math.max(job.total, 1);
    bar.value = job.done + job.skipped;
    bar.textContent = `${job.done} of ${job.total}`;
  }
  const count = row.querySelector('[data-field="count"]');
  if (count) {
    count.textContent = `${job.done} of ${job.total}${job.skipped ? `, ${job.skipped} skipped` : ""}`;
  }
  const cell = row.querySelector('[data-field="download"]');
  if (cell && job.download_url) {
    const link = document.createElement("a");
    link.href = job.download_url;
    link.download = "";
    link.textContent = `ZIP of ${job.done} scorecards`;
    cell.replaceChildren(link);
  }
  if (job.state === "queued" || job.state === "running") {
    window.setTimeout(() => void follow(row), EVERY_MS);
  }
}

for (const row of document.querySelectorAll('tr[data-live="true"]')) {
  if (row instanceof HTMLTableRowElement) void follow(row);
}
