// @ts-check
/**
 * The sheet of access codes: a button that prints it (the browser's Print command does
 * the same without this module, which is why the button starts hidden).
 */

document.querySelectorAll("[data-print]").forEach((button) => {
  if (!(button instanceof HTMLButtonElement)) return;
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
