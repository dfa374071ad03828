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

const PREFIX = "waa-player";

function load(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function store(key, value) {
  localStorage.setItem(key, JSON.stringify(value));
}

export class SaveQueue {
  /**
   * @param {string} attemptId
   * @param {(path: string, init: RequestInit) => Promise<Response>} send  the API call
   * @param {object} hooks  onState({pending, saving, offline, error}), onRefused(kind, detail, save)
   */
  constructor(attemptId, send, hooks) {
    this.attemptId = attemptId;
    this.send = send;
    this.hooks = hooks;
    this.queueKey = `${PREFIX}:queue:${attemptId}`;
    this.seqKey = `${PREFIX}:seq:${attemptId}`;
    this.flushing = null;
    this.retryTimer = null;
    this.retryDelay = 1000;
    this.offline = !navigator.onLine;
    this.stopped = false;
  }

  get queue() { return load(this.queueKey, []); }

  set queue(items) { store(this.queueKey, items); }

  /** The highest seq this browser has used or seen for ``ref``. */
  seqOf(ref) { return load(this.seqKey, {})[ref] ?? 0; }

  /** Remember that the server holds ``seq`` for ``ref`` (the next edit goes past it). */
  observe(ref, seq) {
    const seqs = load(this.seqKey, {});
    if ((seqs[ref] ?? 0) < seq) {
      seqs[ref] = seq;
      store(this.seqKey, seqs);
    }
  }

  /** The newest queued (not yet saved) save of ``ref``, if any. */
  pendingFor(ref) {
    return this.queue.filter((s) => s.ref === ref).pop();
  }

  /** Queue a new edit of ``ref`` and start sending. Returns the save. */
  enqueue(ref, value, flagged, timeSpentMs) {
    const seqs = load(this.seqKey, {});
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

  report(error = null) {
    this.hooks.onState({
      pending: this.queue.length,
      saving: this.flushing !== null,
      offline: this.offline,
      error,
    });
  }

  setOffline(offline) {
    this.offline = offline;
    if (!offline) {
      this.retryDelay = 1000;
      this.flush();
    }
    this.report();
  }

  /** Send queued saves in order until the queue is empty or a send fails. Resolves when
   * this round is over; concurrent calls share one round. */
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
        response = await this.send(
          `/api/v1/attempts/${this.attemptId}/responses/${encodeURIComponent(save.ref)}`,
          {
            method: "PUT",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({
              seq: save.seq, value: save.value, flagged: save.flagged, time_spent_ms: save.time_spent_ms,
            }),
          },
        );
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

  #drop(save) {
    this.queue = this.queue.filter((s) => !(s.ref === save.ref && s.seq === save.seq));
  }

  async #settle(save, response) {
    let body = {};
    try { body = await response.json(); } catch { body = {}; }
    if (response.ok) {
      this.observe(save.ref, body.current_seq ?? save.seq);
      this.#drop(save);
      this.retryDelay = 1000;
      this.hooks.onSaved?.(save, body.accepted !== false);
      return "next";
    }
    const code = String(body.type ?? "").split("/").pop();
    if (response.status === 404 || response.status === 401) {
      // The credential is not (or no longer) valid: keep the queue for after sign-in.
      this.stopped = true;
      this.hooks.onRefused("credential", body.detail, save);
      return "stop";
    }
    if (response.status === 410) {
      this.#drop(save);
      this.hooks.onRefused("late", body.detail, save);
      return "next";
    }
    if (response.status === 409 && code === "attempt-paused") {
      this.lastError = "paused";
      this.hooks.onRefused("paused", body.detail, save);
      return "retry";
    }
    if (response.status === 409 || response.status === 422) {
      // The server kept it in the history but it can never count: do not resend it.
      this.#drop(save);
      this.hooks.onRefused(response.status === 422 ? "invalid" : "closed", body.detail, save);
      return "next";
    }
    this.lastError = `HTTP ${response.status}`;
    return "retry";
  }

  #retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 30000);
  }
}

/** Browser integrity events, sent in batches (and kept while the network is away). */
export class EventBatcher {
  constructor(attemptId, send) {
    this.attemptId = attemptId;
    this.send = send;
    this.events = [];
    this.timer = null;
    this.sending = false;
  }

  record(kind, data = {}) {
    this.events.push({ kind, client_time: new Date().toISOString(), data });
    if (this.events.length >= 20) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), 3000);
  }

  async flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.sending || this.events.length === 0) return;
    const batch = this.events.splice(0, 50);
    this.sending = true;
    try {
      const response = await this.send(`/api/v1/attempts/${this.attemptId}/events`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ events: batch }),
      });
      if (response.status >= 500 || response.status === 429) throw new Error("retry");
    } catch {
      this.events.unshift(...batch);
      this.timer = setTimeout(() => this.flush(), 10000);
    } finally {
      this.sending = false;
    }
  }
}
