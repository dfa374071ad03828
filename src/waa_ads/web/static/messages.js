// @ts-check
// What the candidate is told when the server refuses something. The server's `detail` is
// a sentence for developers and support ("all 1 attempts allowed have been used"): it is
// never shown. Each known problem code (docs/candidate-api.md) has a sentence written for
// the candidate, per action where the same code means different things; anything else
// gets a general sentence with the request's reference, so support can find it in the logs.

/** @typedef {import("./types.js").Problem} Problem */

/**
 * What the candidate was doing when the problem came back.
 * @typedef {"start" | "save" | "upload" | "advance" | "submit" | "break" | "break-end" | "open"} Action
 */

const TRY_AGAIN = "Something changed on the server at the same moment. Please try again.";
const PAUSED = "The test is paused, so this cannot be done now. Please wait until it continues.";

/** Sentences for the codes that mean the same whatever the candidate was doing. @type {Record<string, string>} */
const ANY = {
  "attempt-changed": TRY_AGAIN,
  "attempt-paused": PAUSED,
  "attempt-not-started": "The test has not started yet.",
  "attempt-ended": "The test has ended, so answers can no longer be changed.",
  "deadline-passed": "The time for this test is over, so this change was not saved.",
  "too-many-requests": "Too many requests in a short time. Please wait a minute and try again.",
  "payload-too-large": "This is too large to send. Please make it shorter.",
  "invalid-text": "This contains characters that cannot be saved. Please remove them and try again.",
};

/** @type {Record<Action, Record<string, string>>} */
const BY_ACTION = {
  start: {
    "access-code-invalid": "This access code is not valid. Check it and try again.",
    "validation-error": "This access code is not valid. Check it and try again.",
    "invalid-text": "This access code is not valid. Check it and try again.",
    "administration-not-open": "This test is not open yet. Please come back at the time you were given.",
    "administration-closed": "This test is closed, so it cannot be started any more. If you think this is wrong, contact the organizer of your test.",
    "administration-cancelled": "This test has been cancelled. The organizer of your test will tell you what happens next.",
    "attempts-exhausted": "You have already taken this test as many times as allowed, so a new attempt cannot be started. If you think this is wrong, contact the organizer of your test.",
  },
  save: {
    "item-closed": "This question is closed, so this change was not saved. Only the current question can be answered.",
    "item-not-on-form": "This question is not part of your test any more, so the answer was not saved. Please reload the page.",
    "response-invalid": "This answer could not be saved because the question does not accept it in this form. Please check it and try again.",
    "validation-error": "This answer could not be saved because the question does not accept it in this form. Please check it and try again.",
  },
  upload: {
    "upload-too-large": "This file is too large. Please choose a smaller file.",
    "upload-empty": "This file is empty. Please choose another file.",
    "response-invalid": "This kind of file is not accepted for this question. Please choose another file.",
    "item-closed": "This question is closed, so the file was not accepted.",
    "deadline-passed": "The time for this test is over, so the file was not accepted.",
    "attempt-paused": "The test is paused. Please upload the file again when it continues.",
  },
  advance: {
    "last-item": "This is the last question. Submit the test when you are ready.",
  },
  submit: {
    "attempt-paused": "The test is paused, so it cannot be submitted now. Please wait until it continues.",
    "illegal-transition": "The test cannot be submitted right now. Please reload the page and try again.",
  },
  break: {
    "breaks-not-allowed": "Breaks are not allowed in this test.",
    "breaks-exhausted": "You have used all the breaks allowed in this test.",
    "illegal-transition": "A break cannot start right now (for example while the test is paused).",
  },
  "break-end": {
    "not-on-break": "You are not on a break. If the test was paused by your supervisor, it continues when they resume it.",
    "illegal-transition": "The test cannot continue right now. Please wait a moment and try again.",
  },
  open: {},
};

/**
 * The sentence for a refused request.
 * @param {Problem} problem
 * @param {Action} action
 * @returns {string}
 */
export function problemMessage(problem, action) {
  const known = BY_ACTION[action][problem.code] ?? ANY[problem.code];
  if (known) return known;
  const reference = problem.requestId ? ` If it keeps happening, tell your test supervisor and give them this reference: ${problem.requestId}.` : " If it keeps happening, tell your test supervisor.";
  if (problem.status >= 500) return `The test server had a problem and could not do this. Please try again in a moment.${reference}`;
  return `Something went wrong and this could not be done. Please try again.${reference}`;
}

/** Said when a request did not reach the server at all. */
export const OFFLINE = "The test server cannot be reached. Check your network connection and try again.";
