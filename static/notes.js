// cyoa presenter console (/presenter/notes): a second screen or a phone used
// as a remote. The server draws the page; this script follows the run over
// the presenter socket (fetching the page again when the slide, the vote's
// status or the story changes), paints live tallies in place, ticks the
// elapsed time, and sends presenter commands from its buttons (its keys are
// static/keys.js, the same as the presenter view's).
"use strict";

(function () {
  const main = document.getElementById("console");
  if (!main) return;

  let state = null; // last state from the server
  let flashTimer = null;
  let offlineTimer = null;
  // The server's clock minus this device's, so the elapsed time is the
  // server's even when the phone's clock is off.
  let skew = 0;
  readClock();

  const { cssEscape } = window.cyoa;
  window.cyoa.socket("/ws?role=presenter", {
    maxDelay: 8000,
    onOpen: function () {
      clearTimeout(offlineTimer);
      connectionBox().hidden = true;
    },
    onMessage: onMessage,
    onClose: function () {
      clearTimeout(offlineTimer);
      offlineTimer = setTimeout(function () {
        connectionBox().hidden = false;
      }, 1000);
    },
  });
  cyoa.keys.start("console", { state: () => state, onState: onState, flash: flash });
  main.addEventListener("click", onClick);
  main.addEventListener("submit", onSubmit);
  cyoa.keys.on("name-run", showLabel);
  tick();
  setInterval(tick, 1000);

  // ---- live updates -------------------------------------------------------

  function onMessage(message) {
    if (message.type === "state" && message.state) onState(message.state);
    else if (message.type === "tally") onTally(message);
    else if (message.type === "story") reload();
    else if (message.type === "minting") paintMinting(message.minting);
    else if (message.type === "error") flash(message.message || "The server refused that.");
  }

  function onState(next) {
    state = next;
    cyoa.countdown.set(next.timer);
    const status = next.decision && next.decision.id === next.slide.id ? next.decision.status : "";
    const same =
      String(next.run) === main.dataset.run &&
      next.slide &&
      next.slide.id === main.dataset.slide &&
      (main.dataset.voteStatus || "") === status;
    if (same) {
      paint(next.decision);
      followLabel(next.label || "");
    } else reload();
  }

  // A name given to this run elsewhere (another console, the presenter
  // view's N key, the API) shows here at once, unless the name field is
  // being edited.
  function followLabel(label) {
    const field = main.querySelector("[data-run-label]");
    if (!field || field.dataset.runLabel === label) return;
    if (document.activeElement === field || field.value !== field.dataset.runLabel) return;
    showLabel(label);
  }

  function onTally(tally) {
    if (tally.decision !== main.dataset.decision) return;
    paint(tally);
  }

  // Fetches the console page again and swaps in its <main>. A tally that
  // arrived during the fetch may be newer than the page: painted after.
  const reload = cyoa.pageReloader("/presenter/notes", "console", swap, function () {
    cyoa.countdown.paint();
    if (state && state.slide && state.slide.id === main.dataset.slide) paint(state.decision);
  }, function (text) { flash(text); });

  function swap(fresh) {
    const hiddenConnection = connectionBox().hidden;
    Array.from(main.attributes).forEach(function (attr) {
      if (attr.name !== "id") main.removeAttribute(attr.name);
    });
    Array.from(fresh.attributes).forEach((attr) => main.setAttribute(attr.name, attr.value));
    main.replaceChildren(...Array.from(fresh.childNodes).map((node) => document.importNode(node, true)));
    connectionBox().hidden = hiddenConnection;
    readClock();
    tick();
  }

  // ---- painting -----------------------------------------------------------

  // Paints a `tally` message or a state's decision (same fields, but the
  // decision's id is `id` rather than `decision`).
  function paint(tally) {
    if (!tally || (tally.decision || tally.id) !== main.dataset.decision) return;
    const total = tally.total || 0;
    (tally.choices || []).forEach(function (choice) {
      main.querySelectorAll('[data-tally="' + cssEscape(choice.id) + '"]').forEach(function (node) {
        node.textContent = String(choice.votes || 0);
      });
      const row = main.querySelector('[data-choice-row="' + cssEscape(choice.id) + '"]');
      if (row) {
        const tied = Array.isArray(tally.tie) && tally.tie.includes(choice.id);
        row.classList.toggle("winner", tally.winner === choice.id || tied);
      }
    });
    main.querySelectorAll("[data-total]").forEach(function (node) {
      node.textContent = String(total);
    });
  }

  // How fast voters join and how many mints were refused: a jump in either
  // is a script or another site at work.
  function paintMinting(figures) {
    const box = document.getElementById("minting");
    if (!box || !figures) return;
    box.querySelectorAll("[data-mint]").forEach(function (node) {
      const value = figures[node.dataset.mint];
      if (value !== undefined) node.textContent = String(value);
    });
    box.classList.toggle("alarm", (figures.refused_rate || 0) + (figures.refused_cross_site || 0) > 0);
  }

  function readClock() {
    const now = Number(main.dataset.now);
    if (now > 0) skew = now - Date.now();
  }

  // The time since the run started and, with the story's duration, the
  // time left and which choices' ways can still fit in it.
  function tick() {
    const node = document.getElementById("elapsed");
    if (!node) return;
    const started = Number(main.dataset.started);
    if (!(started > 0)) {
      node.textContent = "–";
      return;
    }
    const seconds = Math.max(0, Math.floor((Date.now() + skew - started) / 1000));
    node.textContent = clock(seconds);
    node.setAttribute("datetime", "PT" + seconds + "S");
    const duration = Number(main.dataset.duration);
    if (duration > 0) paintBudget(duration - seconds);
  }

  // m:ss, or h:mm:ss past an hour; a minus sign once over (as the server
  // writes it).
  function clock(seconds) {
    const sign = seconds < 0 ? "−" : "";
    const all = Math.abs(seconds);
    const h = Math.floor(all / 3600);
    const m = Math.floor((all % 3600) / 60);
    const s = all % 60;
    const two = (n) => String(n).padStart(2, "0");
    return sign + (h > 0 ? h + ":" + two(m) + ":" + two(s) : m + ":" + two(s));
  }

  // The time left, and a mark on each choice whose shortest way on takes
  // longer than that.
  function paintBudget(left) {
    const node = document.getElementById("time-left");
    if (node) {
      node.textContent = clock(left);
      node.setAttribute("datetime", "PT" + Math.max(0, left) + "S");
    }
    main.querySelectorAll("[data-rest-shortest]").forEach(function (rest) {
      const noFit = Number(rest.dataset.restShortest) > left;
      rest.classList.toggle("no-fit", noFit);
      const mark = rest.querySelector("[data-no-fit]");
      if (mark) mark.hidden = !noFit;
    });
  }

  // ---- control ------------------------------------------------------------

  function onClick(event) {
    const button = event.target.closest("button");
    if (!button || !main.contains(button)) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    if (button.dataset.logout !== undefined) cyoa.presenterLogout(flash);
    else if (button.dataset.command) command(button.dataset.command);
    else if (button.dataset.follow) command("follow", { choice: button.dataset.follow });
  }

  // The run's name field: saves the name (empty removes it).
  async function onSubmit(event) {
    const form = event.target.closest("[data-run-label-form]");
    if (!form) return;
    event.preventDefault();
    const field = form.querySelector("[data-run-label]");
    const kept = await cyoa.labelRun(main.dataset.run, field ? field.value : "", flash);
    if (kept !== undefined) showLabel(kept);
  }

  function showLabel(kept) {
    const field = main.querySelector("[data-run-label]");
    if (field) {
      field.value = kept || "";
      field.dataset.runLabel = kept || "";
    }
    const shown = main.querySelector(".run-label-shown");
    if (shown) shown.textContent = kept ? " · " + kept : "";
  }

  function command(name, body) {
    return cyoa.presenterCommand(name, body, onState, function (text) { flash(text); });
  }

  function flash(text) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () {
      box.hidden = true;
    }, 4000);
  }

  function connectionBox() {
    return document.getElementById("connection") || document.createElement("p");
  }
})();
