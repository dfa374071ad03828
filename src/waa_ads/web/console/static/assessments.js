// @ts-check
/**
 * The assessment builder's pool size, counted as a selection rule is typed.
 *
 * Each `[data-pool]` block holds a rule's fields (bank_id, tags, subject,
 * interaction_types, count); on every change the module asks
 * `GET /api/v1/assessments/pool-size` how many published items match, and writes the
 * answer into the block's `[data-pool-output]` (a polite live region); a block the
 * server did not count (`data-pool-pending`) is counted at once. Without this module the
 * server counts on "Check pool".
 */

import { formatNumber, nt, t } from "/static/player/i18n.js";

const WAIT_MS = 300;

/**
 * @param {HTMLElement} block
 * @param {string} name
 * @returns {string}
 */
function value(block, name) {
  const field = block.querySelector(`[name="${name}"]`);
  return field instanceof HTMLInputElement || field instanceof HTMLSelectElement
    ? field.value.trim()
    : "";
}

/**
 * @param {HTMLElement} block
 * @returns {URLSearchParams | null}
 */
function query(block) {
  const bank = value(block, "bank_id");
  if (!bank) return null;
  const params = new URLSearchParams({ bank_id: bank });
  for (const tag of value(block, "tags").split(",")) {
    if (tag.trim()) params.append("tag", tag.trim());
  }
  const subject = value(block, "subject");
  if (subject) params.set("subject", subject);
  block.querySelectorAll('input[name="interaction_types"]:checked').forEach((box) => {
    if (box instanceof HTMLInputElement) params.append("type", box.value);
  });
  return params;
}

/**
 * @param {HTMLElement} output
 * @param {number} pool
 * @param {number} draw
 */
function show(output, pool, draw) {
  output.textContent = "";
  // The count is shown in bold where the sentence puts it, in any language.
  const sentence = nt(
    "Pool: {count} published item matches",
    "Pool: {count} published items match",
    pool,
  );
  const [before = "", after = ""] = sentence.split("{count}");
  const strong = document.createElement("strong");
  strong.textContent = formatNumber(pool);
  output.append(before, strong, after);
  if (Number.isFinite(draw) && pool < draw) {
    const short = document.createElement("span");
    short.className = "pool-short";
    short.textContent = t("fewer than the {drawn} drawn: publishing will be refused", {
      drawn: formatNumber(draw),
    });
    output.append(", ", short);
  }
  output.append(".");
}

/** @param {HTMLElement} block */
function watch(block) {
  const output = block.querySelector("[data-pool-output]");
  if (!(output instanceof HTMLElement)) return;
  /** @type {number | undefined} */
  let timer;
  let asked = 0;
  const count = async () => {
    const params = query(block);
    if (!params) return;
    const mine = ++asked;
    try {
      const reply = await fetch(`/api/v1/assessments/pool-size?${params}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (mine !== asked) return;
      if (!reply.ok) {
        output.textContent = t("The pool cannot be counted with these filters.");
        return;
      }
      /** @type {{count: number}} */
      const body = await reply.json();
      show(output, body.count, Number.parseInt(value(block, "count"), 10));
    } catch {
      if (mine === asked) output.textContent = t("The pool could not be counted (offline?).");
    }
  };
  const later = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void count(), WAIT_MS);
  };
  block.addEventListener("input", later);
  block.addEventListener("change", later);
  if (output.hasAttribute("data-pool-pending")) void count();
}

document.querySelectorAll("[data-pool]").forEach((block) => {
  if (block instanceof HTMLElement) watch(block);
});
