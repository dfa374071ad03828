// @ts-check
// The candidate's scorecard: once an attempt's result is released, the result shows a
// "Download your scorecard (PDF)" button. It asks the reports API with the access code
// (the server checks again that the code opened this attempt and that its result is
// released) and saves the PDF the server sends: the released figures, the verification
// code and the feedback to the candidate, never an answer key.

import { fetchScorecard, readProblem } from "./api.js";
import { t } from "./i18n.js";
import { OFFLINE } from "./messages.js";

/** What the candidate is told for a refusal the server names. @type {Record<string, string>} */
const SCORECARD_REFUSED = {
  "result-not-released-for-report": t("Your scorecard is not available: the result is not released."),
  "scorecard-rate-limited": t("Your scorecard has been downloaded many times in the last hour. Please try again later."),
  "access-code-rate-limited": t("Too many access codes that are not valid were tried from this network. Please wait a few minutes, check your code and try again."),
};

/**
 * The download button, with a line under it that says how it went.
 * @param {string} accessCode
 * @param {string} attemptId
 * @param {string} [label]
 * @returns {HTMLElement}
 */
export function scorecardDownload(accessCode, attemptId, label = t("Download your scorecard (PDF)")) {
  const box = document.createElement("div");
  box.className = "scorecard";
  const line = document.createElement("p");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  status.className = "scorecard-status";
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = t("Preparing your scorecard…");
    try {
      const response = await fetchScorecard(accessCode, attemptId);
      if (!response.ok) {
        const problem = await readProblem(response);
        status.textContent = SCORECARD_REFUSED[problem.code]
          ?? t("Your scorecard could not be prepared. Please try again later.");
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = `scorecard-${attemptId}.pdf`;
      link.hidden = true;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.textContent = t("Your scorecard was downloaded (a PDF file).");
    } catch {
      status.textContent = OFFLINE;
    } finally {
      button.disabled = false;
    }
  });
  line.append(button);
  box.append(line, status);
  return box;
}
