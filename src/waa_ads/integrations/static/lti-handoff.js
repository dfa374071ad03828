// @ts-check
// LTI pages of the tool, without inline script (strict CSP). Two jobs:
// - a learner's launch page carries the attempt and its credential in data attributes:
//   they are kept where the player looks for them (sessionStorage), then the player opens;
// - a deep-linking return page carries a form to the platform: it is submitted at once
//   (its button does the same without JavaScript).

const handoff = document.getElementById("lti-handoff");
if (handoff instanceof HTMLElement) {
  const attemptId = handoff.dataset["attempt"];
  const credential = handoff.dataset["credential"];
  if (attemptId && credential) {
    sessionStorage.setItem("waa-player:session", JSON.stringify({ attemptId, credential }));
    window.location.replace("/take");
  }
}

const back = document.getElementById("lti-return");
if (back instanceof HTMLFormElement && back.dataset["autosubmit"] === "true") {
  back.submit();
}
