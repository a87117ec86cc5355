// cyoa presenter view: the story map overlay (key M) with the run's path and
// vote shares, kept fresh by the live pushes, and the keys that publish the
// run's results (P, for /results) and the explore mode (E, for /explore).
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
  document.body.append(overlay);

  let published = { results: false, explore: false };
  let loading = false;
  let again = false;
  let pending = null;
  let centred = false;

  fetch("/api/state", { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then(function (state) {
      if (state && state.published) published = state.published;
    })
    .catch(function () {});

  document.addEventListener("cyoa:message", function (event) {
    const message = event.detail || {};
    if (message.type === "state" && message.state) {
      if (message.state.published) published = message.state.published;
      refreshSoon();
    } else if (message.type === "tally") {
      refreshSoon();
    }
  });
  document.addEventListener("keydown", onKey);

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    switch (event.key) {
      case "m":
      case "M":
        event.preventDefault();
        toggle();
        break;
      case "Escape":
        if (!overlay.hidden) toggle();
        break;
      case "p":
      case "P":
        event.preventDefault();
        publish("results", "Results published at /results.", "Results hidden again.");
        break;
      case "e":
      case "E":
        event.preventDefault();
        publish("explore", "Explore mode on at /explore.", "Explore mode off.");
        break;
      default:
    }
  }

  function toggle() {
    overlay.hidden = !overlay.hidden;
    document.body.classList.toggle("map-open", !overlay.hidden);
    if (!overlay.hidden) {
      centred = false;
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

  async function publish(key, on, off) {
    const body = { published: !published[key] };
    let response;
    try {
      response = await fetch("/api/presenter/" + key, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Cyoa-Presenter": "1", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (_) {
      return flash("The server cannot be reached.");
    }
    const payload = await response.json().catch(() => null);
    if (!response.ok) return flash((payload && payload.message) || "The server refused that (" + response.status + ").");
    if (payload && payload.published) published = payload.published;
    flash(published[key] ? on : off);
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
