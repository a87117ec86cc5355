// cyoa presenter keys: the one table of keys and the commands they send,
// for every presenter screen (the presenter view and the console), so a key
// means the same on both: Enter follows the winner, a digit follows that
// choice of this slide's vote by its number. The `?` help is drawn from the
// same table; a key that works on one screen only says so there.
//
// A classic script, loaded (deferred) after common.js and before the page's
// own script, which starts it with `cyoa.keys.start(screen, page)`. Keys
// whose work belongs to one page (full screen, the story map) call what
// that page hands to `cyoa.keys.on(command, handler)`.
"use strict";

(function () {
  // The screens, as the help names them.
  const SCREENS = { view: "presenter view", console: "console" };

  // Every key, in the order the help lists them. `only`: the one screen
  // the key works on. README.md's key table says the same, row by row.
  const TABLE = [
    { keys: ["ArrowRight", " ", "PageDown"], shown: "Right, Space, Page Down", does: "next slide (on a closed decision: the winner's branch)", command: "next" },
    { keys: ["ArrowLeft", "PageUp"], shown: "Left, Page Up", does: "back along the path taken", command: "back" },
    { keys: ["o", "O"], shown: "O", does: "open the vote", command: "open" },
    { keys: ["c", "C"], shown: "C", does: "close the vote", command: "close" },
    { keys: ["t"], shown: "T", does: "start the vote's countdown, or start it again (the decision's timer, else the story's, else 30 s)", command: "timer/start" },
    { keys: ["T"], shown: "Shift+T", does: "cancel the countdown (the vote stays open)", command: "timer/cancel" },
    { keys: ["+"], shown: "+", does: "add 15 s to the countdown", command: "timer/extend" },
    { keys: ["1", "2", "3", "4", "5", "6", "7", "8", "9"], shown: "1-9", does: "follow choice N of this slide's vote (closes the vote if it is open)", command: "follow" },
    { keys: ["Enter"], shown: "Enter", does: "follow the winner of the closed vote (else: next)", command: "winner" },
    { keys: ["f", "F"], shown: "F", does: "full screen", command: "fullscreen", only: "view" },
    { keys: ["r", "R"], shown: "R", does: "start a new run (asks first; old runs stay in the history)", command: "new-run" },
    { keys: ["m", "M"], shown: "M", does: "show or hide the story map", command: "map", only: "view" },
    { keys: ["n", "N"], shown: "N", does: "name this run, e.g. PyCon 2027 or rehearsal (asks; empty removes the name)", command: "name-run" },
    { keys: ["p", "P"], shown: "P", does: "publish the run's results at /results (again: hide them)", command: "results" },
    { keys: ["e", "E"], shown: "E", does: "open the story for exploring at /explore (again: close it)", command: "explore" },
    { keys: ["l", "L"], shown: "L", does: "log this browser out of the presenter view (asks first)", command: "logout" },
    { keys: ["?", "h", "H"], shown: "? or H", does: "show or hide these keys", command: "help" },
    { keys: ["Escape"], shown: "Escape", does: "hide these keys or the story map", command: "escape", keepDefault: true },
  ];

  const NEW_RUN = "Start a new run? The votes of this run stay in its history.";
  // What publishing says, per thing published: [on, off].
  const PUBLISHED = {
    results: ["Results published at /results.", "Results hidden again."],
    explore: ["Explore mode on at /explore.", "Explore mode off."],
  };

  const byKey = new Map();
  TABLE.forEach((row) => row.keys.forEach((key) => byKey.set(key, row)));
  const handlers = new Map();
  let screen = null;
  let page = null;
  let help = null;

  // Starts the keys on this page. `name`: "view" or "console". `context`:
  // state() (the last state from the server, or null), onState(state) (a
  // command's answer), flash(text).
  function start(name, context) {
    if (screen) return;
    screen = name;
    page = context;
    document.addEventListener("keydown", onKey);
  }

  // `handler(key)` does `command` on this page (the page's own keys).
  function on(command, handler) {
    const list = handlers.get(command) || [];
    list.push(handler);
    handlers.set(command, list);
  }

  function onKey(event) {
    if (!screen || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    // Enter and Space on a focused button or link press it.
    if (target && target.closest && target.closest("button, a[href]") && (event.key === "Enter" || event.key === " ")) return;
    const row = byKey.get(event.key);
    if (!row) return;
    if (!row.keepDefault) event.preventDefault();
    // A held key would skip through the story: one press, one command.
    if (event.repeat) return;
    if (row.only && row.only !== screen) {
      page.flash(row.shown + " works on the " + SCREENS[row.only] + " only.");
      return;
    }
    run(row.command, event.key);
  }

  function run(name, key) {
    switch (name) {
      case "next":
      case "back":
      case "open":
      case "close":
      case "timer/start":
      case "timer/cancel":
      case "timer/extend":
        return command(name);
      case "follow":
        return followNumber(Number(key));
      case "winner":
        return followWinner();
      case "new-run":
        if (window.confirm(NEW_RUN)) command("new-run");
        return;
      case "results":
      case "explore":
        return publish(name);
      case "name-run":
        return nameRun();
      case "logout":
        return window.cyoa.presenterLogout(page.flash);
      case "help":
        return toggleHelp();
      case "escape":
        if (help && !help.hidden) toggleHelp();
        break;
      default:
    }
    (handlers.get(name) || []).forEach((handler) => handler(key));
  }

  // This slide's decision in the last state, if it has one.
  function decision() {
    const state = page.state();
    const d = state && state.decision;
    return d && state.slide && d.id === state.slide.id ? d : null;
  }

  function followNumber(n) {
    const d = decision();
    if (!d) return page.flash("There is no vote on this slide.");
    const choice = d.choices.find((c) => c.number === n);
    if (!choice) return page.flash("There is no choice " + n + ".");
    command("follow", { choice: choice.id });
  }

  // Follows a closed vote's winner; anything else is "next", whose refusal
  // (vote still open, a tie) the server explains.
  function followWinner() {
    const d = decision();
    if (d && d.status === "closed" && d.winner) return command("follow", { choice: d.winner });
    command("next");
  }

  function command(name, body) {
    return window.cyoa.presenterCommand(name, body, page.onState, page.flash);
  }

  // Publishes `what` ("results" or "explore"), or takes it back.
  async function publish(what) {
    const state = page.state();
    const published = (state && state.published) || {};
    let response;
    try {
      response = await fetch("/api/presenter/" + what, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Cyoa-Presenter": "1", Accept: "application/json" },
        body: JSON.stringify({ published: !published[what] }),
        credentials: "same-origin",
      });
    } catch (_) {
      return page.flash("The server cannot be reached.");
    }
    const payload = await response.json().catch(() => null);
    if (!response.ok) return page.flash((payload && payload.message) || "The server refused that (" + response.status + ").");
    // The answer is newer than the last state push.
    if (payload && payload.published && state) state.published = payload.published;
    const now = payload && payload.published ? payload.published[what] : !published[what];
    page.flash(PUBLISHED[what][now ? 0 : 1]);
  }

  // Asks for this run's name and sends it (the console's field shows the
  // current one; elsewhere the prompt starts empty).
  async function nameRun() {
    const state = page.state();
    const main = document.querySelector("[data-run]");
    const run = (state && state.run) || (main && main.dataset.run);
    if (!run) return page.flash("There is no run yet.");
    const field = document.querySelector("[data-run-label]");
    const label = window.prompt("Name run " + run + " (empty removes the name):", field ? field.value : "");
    if (label === null) return;
    const kept = await window.cyoa.labelRun(run, label, page.flash);
    if (kept !== undefined) handlers.get("name-run")?.forEach((handler) => handler(kept));
  }

  // ---- the help ------------------------------------------------------------

  function toggleHelp() {
    if (!help) help = drawHelp();
    help.hidden = !help.hidden;
    if (!help.hidden) help.querySelector("h2").focus();
  }

  // The table as a dialog: every key, those of another screen marked.
  function drawHelp() {
    const box = document.createElement("div");
    box.id = "keys-help";
    box.className = "keys-help";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-labelledby", "keys-help-title");
    box.hidden = true;
    const title = document.createElement("h2");
    title.id = "keys-help-title";
    title.tabIndex = -1;
    title.textContent = "Keys";
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    ["Key", "Does"].forEach(function (text) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = text;
      head.append(th);
    });
    const body = table.createTBody();
    TABLE.forEach(function (row) {
      const tr = body.insertRow();
      tr.dataset.key = row.command;
      if (row.only && row.only !== screen) tr.className = "elsewhere";
      const key = document.createElement("th");
      key.scope = "row";
      key.textContent = row.shown;
      tr.append(key);
      tr.insertCell().textContent = row.does + (row.only ? " (" + SCREENS[row.only] + " only)" : "");
    });
    const close = document.createElement("p");
    close.textContent = "? or Escape hides this.";
    box.append(title, table, close);
    box.addEventListener("click", toggleHelp);
    document.body.append(box);
    return box;
  }

  window.cyoa.keys = { start: start, on: on, table: TABLE };
})();
