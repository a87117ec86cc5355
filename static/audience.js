// cyoa audience page: votes over the WebSocket and follows the talk on its own.
//
// The server renders the page first; this script keeps it current from the
// `state`, `tally`, `voted` and `error` messages of `/ws`. Without this
// script the page still works: the form posts a sticky vote and the server
// redirects back. Server strings only ever reach the page as textContent.
"use strict";

(function () {
  const main = document.getElementById("audience");
  if (!main) return;

  // A page under /vote/{decision} is pinned to that one decision.
  const pinnedMatch = location.pathname.match(/^\/vote\/([^/]+)\/?$/);
  const pinned = pinnedMatch ? decodeURIComponent(pinnedMatch[1]) : null;

  const announce = ensureAnnounce();
  const connection = ensureConnectionStatus();

  // What the page shows now; null fields mean "unknown, render on the first state".
  const shown = {
    slide: main.dataset.slide || null,
    decision: main.dataset.decision || null,
    status: main.dataset.status || null,
  };
  let state = null; // last state from the server
  let confirmed = null; // the voter's choice as the server last confirmed it
  let socket = null;
  let attempt = 0;
  let reconnectTimer = null;
  let pending = null; // choice sent, not yet confirmed

  const initiallyPressed = main.querySelector('[data-choice][aria-pressed="true"]');
  if (initiallyPressed) confirmed = initiallyPressed.dataset.choice;
  paintBars(main);

  // Votes go over the socket when it is open; otherwise the form posts.
  main.addEventListener("submit", function (event) {
    const button = event.submitter;
    if (!button || !button.dataset.choice) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) return; // plain form post
    event.preventDefault();
    const decision = formDecision(event.target) || shown.decision;
    if (!decision) return;
    pending = button.dataset.choice;
    markChoice(pending);
    socket.send(JSON.stringify({ type: "vote", decision: decision, choice: pending }));
  });

  connect();
  window.addEventListener("online", reconnectNow);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) reconnectNow();
  });

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(scheme + "//" + location.host + "/ws");
    } catch (_) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", function () {
      attempt = 0;
      setConnected(true);
    });
    ws.addEventListener("message", function (event) {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handle(message);
    });
    ws.addEventListener("close", function () {
      if (socket !== ws) return;
      socket = null;
      setConnected(false);
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    // Exponential backoff with jitter, so a room full of phones does not
    // reconnect in lockstep after a server restart.
    const base = Math.min(10000, 500 * Math.pow(2, attempt));
    attempt += 1;
    reconnectTimer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
  }

  function reconnectNow() {
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    attempt = 0;
    connect();
  }

  function setConnected(up) {
    connection.hidden = up;
    main.classList.toggle("is-offline", !up);
  }

  function handle(message) {
    switch (message.type) {
      case "state":
        if (message.state) onState(message.state);
        break;
      case "tally":
        onTally(message);
        break;
      case "voted":
        if (message.decision === shown.decision) {
          confirmed = message.choice || null;
          pending = null;
          markChoice(confirmed);
          const label = choiceLabel(confirmed);
          say(label ? "Your vote: " + label + "." : "Your vote was withdrawn.");
        }
        break;
      case "error":
        pending = null;
        markChoice(confirmed);
        say(message.message || "That did not work; please try again.");
        break;
    }
  }

  function onState(next) {
    state = next;
    const decision = next.decision;
    if (pinned && (!decision || decision.id !== pinned)) {
      // A pinned page keeps its decision and offers the live page.
      showMovedOn();
      return;
    }
    const slideId = next.slide ? next.slide.id : null;
    const decisionId = decision ? decision.id : null;
    const status = decision ? decision.status : null;
    confirmed = next.you || null;
    // A vote on its way stays shown until the server answers it.
    if (decisionId !== shown.decision) pending = null;
    if (slideId !== shown.slide || decisionId !== shown.decision || status !== shown.status) {
      // Without a slide id the page came from a template we cannot compare
      // with: render quietly once, announce only real changes afterwards.
      const known = shown.slide !== null;
      render(next);
      if (known) say(describe(next));
    } else {
      markChoice(pending || confirmed);
      updateCounts(decision);
    }
  }

  function onTally(tally) {
    if (!state || !state.decision || tally.decision !== state.decision.id) return;
    const decision = state.decision;
    const votes = new Map((tally.choices || []).map((c) => [c.id, c.votes]));
    decision.choices.forEach(function (c) {
      if (votes.has(c.id)) c.votes = votes.get(c.id);
    });
    decision.total = tally.total;
    decision.winner = tally.winner === undefined ? decision.winner : tally.winner;
    decision.tie = tally.tie === undefined ? decision.tie : tally.tie;
    if (tally.decision === shown.decision) updateCounts(decision);
  }

  // Rebuilds the page's content from a state, keeping the live regions.
  function render(next) {
    const focusedChoice = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.choice
      : undefined;
    const keep = new Set([announce, connection]);
    Array.from(main.children).forEach(function (child) {
      if (!keep.has(child)) child.remove();
    });
    const nodes = build(next);
    const anchor = announce.parentNode === main ? announce : null;
    nodes.forEach((node) => main.insertBefore(node, anchor));

    const decision = next.decision;
    shown.slide = next.slide ? next.slide.id : null;
    shown.decision = decision ? decision.id : null;
    shown.status = decision ? decision.status : null;
    main.dataset.slide = shown.slide || "";
    main.dataset.decision = shown.decision || "";
    main.dataset.status = shown.status || "";
    if (next.slide && next.slide.title) document.title = next.slide.title + " · cyoa";
    markChoice(pending || confirmed);
    updateCounts(decision);
    if (focusedChoice) {
      const again = main.querySelector('button[data-choice="' + cssEscape(focusedChoice) + '"]');
      if (again && !again.disabled) again.focus();
    }
  }

  function build(next) {
    const nodes = [];
    const decision = next.decision;
    const header = el("header", { class: "slide" });
    header.append(el("h1", { id: "slide-title" }, next.slide ? next.slide.title : ""));
    nodes.push(header);

    if (!decision) {
      nodes.push(el("p", { class: "waiting" }, "Watch the screen: when there is a vote, it appears here."));
      return nodes;
    }

    const section = el("section", { class: "decision", "aria-labelledby": "prompt" });
    section.append(el("h2", { id: "prompt", class: "prompt" }, decision.prompt));

    if (decision.status === "closed") {
      section.append(buildResult(decision));
    } else {
      const form = el("form", {
        class: "choices",
        method: "post",
        action: "/vote/" + encodeURIComponent(decision.id),
        "aria-labelledby": "prompt",
      });
      decision.choices.forEach(function (choice) {
        const button = el("button", {
          type: "submit",
          name: "choice",
          value: choice.id,
          class: "choice",
          "aria-pressed": "false",
        });
        button.dataset.choice = choice.id;
        button.disabled = decision.status !== "open";
        button.append(
          el("span", { class: "choice-key", "aria-hidden": "true" }, String(choice.letter || choice.number || "")),
          el("span", { class: "choice-label" }, choice.label),
        );
        form.append(button);
      });
      section.append(form);
      const hint = el("p", { class: "hint" });
      if (decision.status === "open") {
        hint.append(
          document.createTextNode("Tap a choice; tap another to change your mind. "),
          el("span", { "data-total": "" }, ""),
        );
      } else {
        hint.textContent = "Voting opens soon.";
      }
      section.append(hint);
    }
    nodes.push(section);
    return nodes;
  }

  function buildResult(decision) {
    const wrap = el("div", { class: "result" });
    const list = el("ol", { class: "result-list" });
    decision.choices.forEach(function (choice) {
      const item = el("li", { class: "result-item" });
      item.dataset.choice = choice.id;
      const line = el("div", { class: "result-line" });
      line.append(el("span", { class: "choice-label" }, choice.label), el("span", { class: "result-votes" }));
      line.lastChild.dataset.tally = choice.id;
      const bar = el("div", { class: "bar", "aria-hidden": "true" });
      const fill = el("span", { class: "bar-fill" });
      fill.dataset.bar = choice.id;
      bar.append(fill);
      item.append(line, bar);
      list.append(item);
    });
    wrap.append(list, el("p", { class: "outcome", "data-winner": "" }));
    return wrap;
  }

  // Keeps counts, bars, the outcome and the "your vote" marks in step.
  function updateCounts(decision) {
    if (!decision) return;
    const total = decision.total || 0;
    main.querySelectorAll("[data-total]").forEach(function (node) {
      node.textContent = total === 1 ? "1 vote so far." : total + " votes so far.";
      if (decision.status === "closed") node.textContent = total === 1 ? "1 vote." : total + " votes.";
    });
    decision.choices.forEach(function (choice) {
      main.querySelectorAll('[data-tally="' + cssEscape(choice.id) + '"]').forEach(function (node) {
        node.textContent = String(choice.votes || 0);
        node.dataset.votes = String(choice.votes || 0);
      });
      main.querySelectorAll('[data-bar="' + cssEscape(choice.id) + '"]').forEach(function (node) {
        setBar(node, choice.votes || 0, total);
      });
      main.querySelectorAll('li[data-choice="' + cssEscape(choice.id) + '"]').forEach(function (node) {
        node.classList.toggle("is-winner", decision.winner === choice.id);
        node.classList.toggle("is-tied", Array.isArray(decision.tie) && decision.tie.includes(choice.id));
        node.classList.toggle("is-yours", confirmed === choice.id);
      });
    });
    main.querySelectorAll("[data-winner]").forEach(function (node) {
      node.textContent = outcome(decision);
    });
  }

  function outcome(decision) {
    if (decision.status !== "closed") return "";
    if (decision.winner) return "Winner: " + choiceLabel(decision.winner, decision) + ".";
    if (Array.isArray(decision.tie) && decision.tie.length) {
      return "A tie between " + decision.tie.map((id) => choiceLabel(id, decision)).join(" and ") + ": the presenter picks.";
    }
    return "No votes were cast.";
  }

  function describe(next) {
    const d = next.decision;
    if (!d) return "Now on screen: " + (next.slide ? next.slide.title : "") + ".";
    if (d.status === "open") return "Voting is open: " + d.prompt;
    if (d.status === "closed") return "Voting closed. " + outcome(d);
    return "Coming up: " + d.prompt;
  }

  function showMovedOn() {
    if (main.querySelector(".moved-on")) return;
    const note = el("p", { class: "moved-on" }, "The talk has moved on. ");
    const link = el("a", { href: "/" }, "Follow the talk");
    note.append(link);
    main.insertBefore(note, announce.parentNode === main ? announce : null);
    say("The talk has moved on.");
  }

  function markChoice(choice) {
    main.querySelectorAll("button[data-choice]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.choice === choice ? "true" : "false");
    });
  }

  function paintBars(root) {
    const bars = root.querySelectorAll("[data-bar]");
    if (!bars.length) return;
    let total = 0;
    const counts = new Map();
    root.querySelectorAll("[data-tally]").forEach(function (node) {
      const n = parseInt(node.textContent, 10) || 0;
      counts.set(node.dataset.tally, n);
      total += n;
    });
    bars.forEach((bar) => setBar(bar, counts.get(bar.dataset.bar) || 0, total));
  }

  function choiceLabel(id, decision) {
    const d = decision || (state && state.decision);
    if (d) {
      const found = d.choices.find((c) => c.id === id);
      if (found) return found.label;
    }
    const button = main.querySelector('[data-choice="' + cssEscape(id || "") + '"] .choice-label');
    return button ? button.textContent : id;
  }

  function formDecision(form) {
    const action = form.getAttribute("action") || "";
    const match = action.match(/\/vote\/([^/?#]+)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function say(text) {
    // Clearing first makes screen readers announce a repeated message again.
    announce.textContent = "";
    setTimeout(function () {
      announce.textContent = text;
    }, 50);
  }

  function ensureAnnounce() {
    let node = document.getElementById("announce");
    if (!node) {
      node = el("p", { id: "announce", class: "announce", "aria-live": "polite" });
      main.append(node);
    }
    return node;
  }

  function ensureConnectionStatus() {
    let node = document.getElementById("connection");
    if (!node) {
      node = el("p", { id: "connection", class: "connection", role: "status" }, "Reconnecting…");
      main.append(node);
    }
    node.hidden = true;
    return node;
  }

  function setBar(node, votes, total) {
    if (node.tagName === "METER") {
      node.max = Math.max(total, 1);
      node.value = votes;
    } else {
      node.style.width = (total > 0 ? (100 * votes) / total : 0) + "%";
    }
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([name, value]) => node.setAttribute(name, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
  }
})();
