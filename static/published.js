// cyoa /results and /explore: the page reloads itself when the presenter
// publishes it (or takes it back), or a new run begins, told by the live
// socket's state pushes; no polling.
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
})();
