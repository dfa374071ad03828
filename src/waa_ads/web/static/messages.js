// @ts-check
// What the candidate is told when the server refuses something. The server's `detail` is
// a sentence for developers and support ("all 1 attempts allowed have been used"): it is
// never shown. Each known problem code (docs/candidate-api.md) has a sentence written for
// the candidate, per action where the same code means different things; anything else
// gets a general sentence with the request's reference, so support can find it in the logs.

import { t } from "./i18n.js";

/** @typedef {import("./types.js").Problem} Problem */

/**
 * What the candidate was doing when the problem came back.
 * @typedef {"start" | "save" | "upload" | "advance" | "submit" | "break" | "break-end" | "open"} Action
 */

const TRY_AGAIN = t("Something changed on the server at the same moment. Please try again.");
const PAUSED = t("The test is paused, so this cannot be done now. Please wait until it continues.");

/** Sentences for the codes that mean the same whatever the candidate was doing. @type {Record<string, string>} */
const ANY = {
  "attempt-changed": TRY_AGAIN,
  "attempt-paused": PAUSED,
  "attempt-not-started": t("The test has not started yet."),
  "attempt-ended": t("The test has ended, so answers can no longer be changed."),
  "deadline-passed": t("The time for this test is over, so this change was not saved."),
  "too-many-requests": t("Too many requests in a short time. Please wait a minute and try again."),
  "access-code-rate-limited": t("Too many access codes that are not valid were tried from this network. Please wait a few minutes, check your code and try again."),
  "payload-too-large": t("This is too large to send. Please make it shorter."),
  "invalid-text": t("This contains characters that cannot be saved. Please remove them and try again."),
};

/** @type {Record<Action, Record<string, string>>} */
const BY_ACTION = {
  start: {
    "access-code-invalid": t("This access code is not valid. Check it and try again."),
    "validation-error": t("This access code is not valid. Check it and try again."),
    "invalid-text": t("This access code is not valid. Check it and try again."),
    "administration-not-open": t("This test is not open yet. Please come back at the time you were given."),
    "administration-closed": t("This test is closed, so it cannot be started any more. If you think this is wrong, contact the organizer of your test."),
    "administration-cancelled": t("This test has been cancelled. The organizer of your test will tell you what happens next."),
    "attempts-exhausted": t("You have already taken this test as many times as allowed, so a new attempt cannot be started. If you think this is wrong, contact the organizer of your test."),
  },
  save: {
    "item-closed": t("This question is closed, so this change was not saved. Only the current question can be answered."),
    "item-not-on-form": t("This question is not part of your test any more, so the answer was not saved. Please reload the page."),
    "response-invalid": t("This answer could not be saved because the question does not accept it in this form. Please check it and try again."),
    "validation-error": t("This answer could not be saved because the question does not accept it in this form. Please check it and try again."),
  },
  upload: {
    "upload-too-large": t("This file is too large. Please choose a smaller file."),
    "upload-empty": t("This file is empty. Please choose another file."),
    "response-invalid": t("This kind of file is not accepted for this question. Please choose another file."),
    "item-closed": t("This question is closed, so the file was not accepted."),
    "deadline-passed": t("The time for this test is over, so the file was not accepted."),
    "attempt-paused": t("The test is paused. Please upload the file again when it continues."),
  },
  advance: {
    "last-item": t("This is the last question. Submit the test when you are ready."),
  },
  submit: {
    "attempt-paused": t("The test is paused, so it cannot be submitted now. Please wait until it continues."),
    "illegal-transition": t("The test cannot be submitted right now. Please reload the page and try again."),
  },
  break: {
    "breaks-not-allowed": t("Breaks are not allowed in this test."),
    "breaks-exhausted": t("You have used all the breaks allowed in this test."),
    "illegal-transition": t("A break cannot start right now (for example while the test is paused)."),
  },
  "break-end": {
    "not-on-break": t("You are not on a break. If the test was paused by your supervisor, it continues when they resume it."),
    "illegal-transition": t("The test cannot continue right now. Please wait a moment and try again."),
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
  const reference = problem.requestId
    ? t("If it keeps happening, tell your test supervisor and give them this reference: {reference}.", { reference: problem.requestId })
    : t("If it keeps happening, tell your test supervisor.");
  const what = problem.status >= 500
    ? t("The test server had a problem and could not do this. Please try again in a moment.")
    : t("Something went wrong and this could not be done. Please try again.");
  return `${what} ${reference}`;
}

/** Said when a request did not reach the server at all. */
export const OFFLINE = t("The test server cannot be reached. Check your network connection and try again.");
