// cyoa /results and /explore: the page reloads itself when the presenter
// publishes it (or takes it back), or a new run begins, told by the live
// socket's state pushes; no polling. On /results the presenter's list of
// runs publishes any run, an earlier one included.
"use strict";

(function () {
  const main = document.querySelector("[data-published-key]");
  if (!main || !window.cyoa) return;
  const key = main.dataset.publishedKey;
  const was = main.dataset.published === "true";
  const run = main.dataset.run;
  window.cyoa.socket("/ws", {
    maxDelay: 8000,
    onMessage: function (message) {
      if (message.type !== "state" || !message.state) return;
      const now = !!(message.state.published && message.state.published[key]);
      if (now !== was || String(message.state.run) !== run) location.reload();
    },
  });

  main.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-publish-run]");
    if (!button) return;
    const box = main.querySelector("[data-publish-flash]");
    const flash = function (text) {
      if (box) box.textContent = text;
    };
    button.disabled = true;
    const on = button.getAttribute("aria-pressed") !== "true";
    const now = await window.cyoa.publishRun(button.dataset.publishRun, on, flash);
    button.disabled = false;
    if (now === undefined) return;
    button.setAttribute("aria-pressed", String(now));
    // The side-by-side comparison lists the published runs: fetch it again.
    location.reload();
  });
})();
