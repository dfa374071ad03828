// @ts-check
// The candidate API client: every request the player makes goes through here
// (docs/candidate-api.md). Calls about an attempt send its credential in X-Attempt-Token;
// no request carries a cookie (`credentials: "omit"`). A refused request is read into a
// Problem: callers tell cases apart by its `code` (the end of the problem's `type`) or
// its status, never by the sentence in `detail`, which is not shown either: messages.js
// words what the candidate reads.
//
// A network failure rejects the returned promise; callers decide what to tell the candidate.

import { locale } from "./i18n.js";
import { state } from "./store.js";

/** @typedef {import("./types.js").Attempt} Attempt */
/** @typedef {import("./types.js").AttemptView} AttemptView */
/** @typedef {import("./types.js").Lookup} Lookup */
/** @typedef {import("./types.js").Problem} Problem */
/** @typedef {import("./types.js").Save} Save */
/** @typedef {import("./types.js").Started} Started */
/**
 * @template T
 * @typedef {import("./types.js").Reply<T>} Reply
 */

const ATTEMPTS = "/api/v1/attempts";

/**
 * A request with the signed-in attempt's credential.
 * @param {string} path
 * @param {RequestInit} [init]
 */
export function request(path, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (state.session) headers.set("X-Attempt-Token", state.session.credential);
  headers.set("Accept", "application/json"); // i18n: not shown
  headers.set("Accept-Language", locale);
  return fetch(path, { ...init, headers, credentials: "omit", cache: "no-store" });
}

/**
 * The problem a refused response carries (an empty one when its body is not JSON).
 * @param {Response} response
 * @returns {Promise<Problem>}
 */
export async function readProblem(response) {
  /** @type {Record<string, unknown>} */
  let body = {};
  try {
    const parsed = await response.json();
    if (parsed && typeof parsed === "object") body = parsed;
  } catch {
    body = {};
  }
  const text = (/** @type {unknown} */ field) => (typeof field === "string" && field ? field : null);
  return {
    status: response.status,
    code: String(body.type ?? "").split("/").pop() ?? "",
    detail: text(body.detail) ?? text(body.title),
    requestId: text(body.request_id) ?? response.headers.get("X-Request-ID"),
    body,
  };
}

/** A refused read of the attempt (not a network failure): its problem. */
export class ProblemError extends Error {
  /** @param {Problem} problem */
  constructor(problem) {
    super(`HTTP ${problem.status} ${problem.code}`);
    this.problem = problem;
  }
}

/**
 * The body of a successful response, or its problem.
 * @template T
 * @param {Response} response
 * @returns {Promise<Reply<T>>}
 */
async function reply(response) {
  if (!response.ok) return { ok: false, problem: await readProblem(response) };
  return { ok: true, body: /** @type {T} */ (await response.json()) };
}

/**
 * Whether a response succeeded (its body is not needed), or its problem.
 * @param {Response} response
 * @returns {Promise<Reply<null>>}
 */
async function outcome(response) {
  return response.ok ? { ok: true, body: null } : { ok: false, problem: await readProblem(response) };
}

/** @param {string} attemptId */
const attempt = (attemptId) => `${ATTEMPTS}/${attemptId}`;

/** @param {string} attemptId @param {string} ref */
const response = (attemptId, ref) => `${attempt(attemptId)}/responses/${encodeURIComponent(ref)}`;

/** Whether the server answers, without any credential (the pre-test check). */
export async function serverAnswers() {
  const health = await fetch("/healthz", { cache: "no-store" });
  return health.ok;
}

/**
 * What an access code opens (the candidate, the test, past attempts and their released
 * results, what can happen next). Starts nothing; called any number of times.
 * @param {string} accessCode
 * @returns {Promise<Reply<Lookup>>}
 */
export async function lookupCode(accessCode) {
  return reply(
    await fetch(`${ATTEMPTS}/lookup`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": locale },
      body: JSON.stringify({ access_code: accessCode }),
      credentials: "omit",
      cache: "no-store",
    }),
  );
}

/**
 * The candidate's own scorecard (a PDF) of an attempt their access code opened: the
 * response as it came (200 with the PDF, or a problem: 409 before the result is released).
 * @param {string} accessCode
 * @param {string} attemptId
 * @returns {Promise<Response>}
 */
export async function fetchScorecard(accessCode, attemptId) {
  return fetch("/api/v1/reports/candidate/scorecard.pdf", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/pdf", "Accept-Language": locale },
    body: JSON.stringify({ access_code: accessCode, attempt_id: attemptId }),
    credentials: "omit",
    cache: "no-store",
  });
}

/**
 * Start or resume the attempt of an access code (the clock starts).
 * @param {string} accessCode
 * @returns {Promise<Reply<Started>>}
 */
export async function startAttempt(accessCode) {
  return reply(
    await fetch(ATTEMPTS, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": locale },
      body: JSON.stringify({ access_code: accessCode }),
      credentials: "omit",
    }),
  );
}

/**
 * The attempt as the candidate sees it; `null` when the credential is not (or no longer)
 * valid. Throws a ProblemError on any other refusal (and a TypeError without a network).
 * @param {string} attemptId
 * @returns {Promise<AttemptView | null>}
 */
export async function fetchView(attemptId) {
  const found = await request(attempt(attemptId));
  if (found.status === 404) return null;
  if (!found.ok) throw new ProblemError(await readProblem(found));
  return found.json();
}

/**
 * Record the question open (free navigation), so a reload or another device opens it.
 * Best-effort: the caller ignores the outcome. `keepalive` lets it finish as the page goes.
 * @param {string} attemptId
 * @param {number} position
 * @param {boolean} [keepalive]
 */
export function putPosition(attemptId, position, keepalive = false) {
  return request(`${attempt(attemptId)}/position`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ position }),
    keepalive,
  });
}

/**
 * Send one queued save. The queue reads the reply itself (sync.js).
 * @param {string} attemptId
 * @param {Save} save
 */
export function putResponse(attemptId, save) {
  return request(response(attemptId, save.ref), {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      seq: save.seq, value: save.value, flagged: save.flagged, time_spent_ms: save.time_spent_ms,
    }),
  });
}

/**
 * Upload a file as the response of a file-upload item.
 * @param {string} attemptId
 * @param {string} ref
 * @param {number} seq
 * @param {File} file
 * @returns {Promise<Reply<null>>}
 */
export async function uploadResponse(attemptId, ref, seq, file) {
  const body = new FormData();
  body.append("seq", String(seq));
  body.append("file", file, file.name);
  return outcome(await request(`${response(attemptId, ref)}/file`, { method: "POST", body }));
}

/**
 * Move on to the next item (linear navigation).
 * @param {string} attemptId
 * @returns {Promise<Reply<null>>}
 */
export async function advance(attemptId) {
  return outcome(await request(`${attempt(attemptId)}/advance`, { method: "POST" }));
}

/**
 * Submit the attempt (final).
 * @param {string} attemptId
 * @returns {Promise<Reply<Attempt>>}
 */
export async function submitAttempt(attemptId) {
  return reply(await request(`${attempt(attemptId)}/submit`, { method: "POST" }));
}

/**
 * Take a break (where the assessment allows breaks); the attempt, now paused.
 * @param {string} attemptId
 * @returns {Promise<Reply<Attempt>>}
 */
export async function takeBreak(attemptId) {
  return reply(await request(`${attempt(attemptId)}/break`, { method: "POST" }));
}

/**
 * Come back from a break; the attempt, running again.
 * @param {string} attemptId
 * @returns {Promise<Reply<Attempt>>}
 */
export async function endBreak(attemptId) {
  return reply(await request(`${attempt(attemptId)}/break/end`, { method: "POST" }));
}

/**
 * Send a batch of integrity events.
 * @param {string} attemptId
 * @param {object[]} events
 */
export function postEvents(attemptId, events) {
  return request(`${attempt(attemptId)}/events`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ events }),
  });
}

/**
 * Deliver the attempt in another of the languages it offers (`locales`); 409
 * `locale-not-offered` otherwise.
 * @param {string} attemptId
 * @param {string} code
 * @returns {Promise<Reply<unknown>>}
 */
export async function putLocale(attemptId, code) {
  return reply(
    await request(`${attempt(attemptId)}/locale`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ locale: code }),
    }),
  );
}
