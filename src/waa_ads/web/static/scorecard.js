// @ts-check
// The candidate's scorecard: once an attempt's result is released, the result shows a
// "Download your scorecard (PDF)" button. It asks the reports API with the access code
// (the server checks again that the code opened this attempt and that its result is
// released) and saves the PDF the server sends: the released figures, the verification
// code and the feedback to the candidate, never an answer key.

import { fetchScorecard, readProblem } from "./api.js";
import { OFFLINE } from "./messages.js";

/**
 * The download button, with a line under it that says how it went.
 * @param {string} accessCode
 * @param {string} attemptId
 * @param {string} [label]
 * @returns {HTMLElement}
 */
export function scorecardDownload(accessCode, attemptId, label = "Download your scorecard (PDF)") {
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
    status.textContent = "Preparing your scorecard…";
    try {
      const response = await fetchScorecard(accessCode, attemptId);
      if (!response.ok) {
        const problem = await readProblem(response);
        status.textContent = problem.code === "result-not-released-for-report"
          ? "Your scorecard is not available: the result is not released."
          : "Your scorecard could not be prepared. Please try again later.";
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
      status.textContent = "Your scorecard was downloaded (a PDF file).";
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
