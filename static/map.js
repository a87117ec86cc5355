// cyoa presenter view: the story map overlay (key M, Escape hides it) with
// the run's path and vote shares, kept fresh by the live pushes. The keys
// are static/keys.js's table; this script only does what M and Escape mean.
//
// Loaded by the presenter view after presenter.js, which passes every
// socket message on as a `cyoa:message` event. The map is drawn by the server (/presenter/map.svg)
// and put inline, so it scrolls and scales with the page.
"use strict";

(function () {
  const main = document.getElementById("presenter");
  if (!main || document.getElementById("map-overlay")) return;

  const overlay = document.createElement("div");
  overlay.id = "map-overlay";
  overlay.className = "map-overlay";
  overlay.hidden = true;
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", "Story map");
  // The map scrolls: focusable (and focused when shown), so Up, Down and
  // Home/End scroll it from the keyboard; Left and Right still move the talk.
  overlay.tabIndex = 0;
  document.body.append(overlay);

  let loading = false;
  let again = false;
  let pending = null;
  let centred = false;

  document.addEventListener("cyoa:message", function (event) {
    const message = event.detail || {};
    if ((message.type === "state" && message.state) || message.type === "tally") refreshSoon();
  });
  cyoa.keys.on("map", toggle);
  cyoa.keys.on("escape", function () {
    if (!overlay.hidden) toggle();
  });

  function toggle() {
    overlay.hidden = !overlay.hidden;
    document.body.classList.toggle("map-open", !overlay.hidden);
    if (!overlay.hidden) {
      centred = false;
      overlay.focus({ preventScroll: true });
      load();
    }
  }

  // At most one fetch every half second while votes stream in.
  function refreshSoon() {
    if (overlay.hidden || pending) return;
    pending = setTimeout(function () {
      pending = null;
      load();
    }, 500);
  }

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      do {
        again = false;
        const response = await fetch("/presenter/map.svg", { cache: "no-store", credentials: "same-origin" });
        if (!response.ok) {
          flash("Could not load the story map (" + response.status + ").");
          break;
        }
        const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
        const svg = doc.documentElement;
        if (!svg || svg.nodeName !== "svg") break;
        overlay.replaceChildren(document.importNode(svg, true));
        overlay.dataset.loaded = String(Date.now());
      } while (again);
    } catch (_) {
      flash("Could not load the story map.");
    } finally {
      loading = false;
    }
    const current = overlay.querySelector(".group.current");
    if (current && !centred) {
      current.scrollIntoView({ block: "center", inline: "center" });
      centred = true;
    }
  }

  function flash(text) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    setTimeout(function () {
      if (box.textContent === text) box.hidden = true;
    }, 4000);
  }
})();
