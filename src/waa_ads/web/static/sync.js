// @ts-check
// Autosave with offline tolerance.
//
// Every change becomes a save {ref, seq, value, flagged, time_spent_ms}. The per-response
// `seq` only grows: counters live in localStorage next to the queue, so a reload, a second
// tab or a retry never reuses a number. Saves wait in a queue kept in localStorage (so they
// survive a reload or a crash) and are sent one at a time, in order; a failed send (no
// network, a 5xx, a rate limit) leaves the queue as it is and is retried later, so nothing
// typed is lost. The server keeps the highest seq: `{"accepted": false, "current_seq": N}`
// means another tab saved something newer, so this save is dropped (never re-sent with a
// higher number) and only the next edit gets a number past N.

import { putResponse, readProblem } from "./api.js";

/** @typedef {import("./types.js").Problem} Problem */
/** @typedef {import("./types.js").Refusal} Refusal */
/** @typedef {import("./types.js").ResponseValue} ResponseValue */
/** @typedef {import("./types.js").Save} Save */
/** @typedef {import("./types.js").SaveReply} SaveReply */
/** @typedef {import("./types.js").SaveState} SaveState */

/**
 * @typedef {object} QueueHooks
 * @property {(saveState: SaveState) => void} onState
 * @property {(save: Save, accepted: boolean) => void} [onSaved]
 * @property {(kind: Refusal, problem: Problem | null, save: Save) => void} onRefused
 */

const PREFIX = "waa-player";

/**
 * @template T
 * @param {string} key
 * @param {T} fallback
 * @returns {T}
 */
function load(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

/**
 * @param {string} key
 * @param {unknown} value
 */
function store(key, value) {
  localStorage.setItem(key, JSON.stringify(value));
}

/**
 * What a refused save means, by the problem's code (the end of its `type`) or its status;
 * `null` when it should simply be sent again later (a 5xx, a rate limit).
 * @param {Problem} problem
 * @returns {Refusal | null}
 */
export function refusalOf({ status, code }) {
  // The credential is not (or no longer) valid.
  if (status === 404 || status === 401) return "credential";
  if (code === "deadline-passed" || status === 410) return "late";
  if (code === "attempt-paused") return "paused";
  if (code === "item-closed" || status === 409) return "closed";
  if (status === 422) return "invalid";
  return null;
}

export class SaveQueue {
  /**
   * @param {string} attemptId
   * @param {QueueHooks} hooks
   */
  constructor(attemptId, hooks) {
    this.attemptId = attemptId;
    this.hooks = hooks;
    this.queueKey = `${PREFIX}:queue:${attemptId}`;
    this.seqKey = `${PREFIX}:seq:${attemptId}`;
    /** @type {Promise<void> | null} */
    this.flushing = null;
    /** @type {number | undefined} */
    this.retryTimer = undefined;
    this.retryDelay = 1000;
    this.offline = !navigator.onLine;
    this.stopped = false;
    /** @type {string | null} */
    this.lastError = null;
  }

  /** @returns {Save[]} the saves not yet sent, oldest first */
  get queue() { return load(this.queueKey, /** @type {Save[]} */ ([])); }

  set queue(items) { store(this.queueKey, items); }

  /** @returns {Record<string, number>} */
  #seqs() { return load(this.seqKey, {}); }

  /**
   * The highest seq this browser has used or seen for `ref`.
   * @param {string} ref
   */
  seqOf(ref) { return this.#seqs()[ref] ?? 0; }

  /**
   * Remember that the server holds `seq` for `ref` (the next edit goes past it).
   * @param {string} ref
   * @param {number} seq
   */
  observe(ref, seq) {
    const seqs = this.#seqs();
    if ((seqs[ref] ?? 0) < seq) {
      seqs[ref] = seq;
      store(this.seqKey, seqs);
    }
  }

  /**
   * The newest queued (not yet saved) save of `ref`, if any.
   * @param {string} ref
   */
  pendingFor(ref) {
    return this.queue.filter((s) => s.ref === ref).pop();
  }

  /**
   * Queue a new edit of `ref` and start sending. Returns the save.
   * @param {string} ref
   * @param {ResponseValue} value
   * @param {boolean} flagged
   * @param {number} timeSpentMs
   * @returns {Save}
   */
  enqueue(ref, value, flagged, timeSpentMs) {
    const seqs = this.#seqs();
    const seq = (seqs[ref] ?? 0) + 1;
    seqs[ref] = seq;
    store(this.seqKey, seqs);
    const save = { ref, seq, value, flagged, time_spent_ms: timeSpentMs };
    // An unsent older save of the same response is superseded: the highest seq wins anyway.
    this.queue = [...this.queue.filter((s) => s.ref !== ref), save];
    this.report();
    this.flush();
    return save;
  }

  /** @param {string | null} [error] */
  report(error = null) {
    this.hooks.onState({
      pending: this.queue.length,
      saving: this.flushing !== null,
      offline: this.offline,
      error,
    });
  }

  /** @param {boolean} offline */
  setOffline(offline) {
    this.offline = offline;
    if (!offline) {
      this.retryDelay = 1000;
      this.flush();
    }
    this.report();
  }

  /**
   * Send queued saves in order until the queue is empty or a send fails. Resolves when
   * this round is over; concurrent calls share one round.
   * @returns {Promise<void>}
   */
  flush() {
    if (this.stopped) return Promise.resolve();
    if (this.flushing) return this.flushing;
    this.flushing = this.#run().finally(() => {
      this.flushing = null;
      this.report(this.lastError);
    });
    this.report();
    return this.flushing;
  }

  async #run() {
    this.lastError = null;
    clearTimeout(this.retryTimer);
    for (;;) {
      if (this.stopped) return;
      const save = this.queue[0];
      if (!save) return;
      let response;
      try {
        response = await putResponse(this.attemptId, save);
      } catch {
        this.offline = true;
        this.#retryLater();
        return;
      }
      if (this.offline) this.offline = false;
      const outcome = await this.#settle(save, response);
      if (outcome === "retry") {
        this.#retryLater();
        return;
      }
      if (outcome === "stop") return;
    }
  }

  /** @param {Save} save */
  #drop(save) {
    this.queue = this.queue.filter((s) => !(s.ref === save.ref && s.seq === save.seq));
  }

  /**
   * @param {Save} save
   * @param {Response} response
   * @returns {Promise<"next" | "retry" | "stop">}
   */
  async #settle(save, response) {
    if (response.ok) {
      /** @type {Partial<SaveReply>} */
      let body = {};
      try { body = await response.json(); } catch { body = {}; }
      this.observe(save.ref, body.current_seq ?? save.seq);
      this.#drop(save);
      this.retryDelay = 1000;
      this.hooks.onSaved?.(save, body.accepted !== false);
      return "next";
    }
    const problem = await readProblem(response);
    const refusal = refusalOf(problem);
    switch (refusal) {
      case "credential":
        // Keep the queue for after sign-in.
        this.stopped = true;
        this.hooks.onRefused(refusal, problem, save);
        return "stop";
      case "paused":
        this.lastError = "paused";
        this.hooks.onRefused(refusal, problem, save);
        return "retry";
      case "late":
      case "closed":
      case "invalid":
        // The server kept it in the history but it can never count: do not resend it.
        this.#drop(save);
        this.hooks.onRefused(refusal, problem, save);
        return "next";
      default:
        this.lastError = `HTTP ${response.status}`;
        return "retry";
    }
  }

  #retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 30000);
  }
}
