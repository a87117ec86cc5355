// cyoa audience page: votes over the WebSocket and follows the talk on its own.
//
// The server renders the page first (templates/audience.html); this script
// keeps it current from the `state`, `tally`, `voted` and `error` messages of
// /ws, rebuilding the same markup with DOM calls. Server strings only ever
// reach the page as textContent. Without this script the page still works:
// the form posts the vote (with the page's token) and the server redirects
// back; in a presence story that page reloads itself to keep its vote.
//
// A page opened less than the server's --voter-min-age ago gets `too_soon`
// for a vote: the page sends that vote once more when the wait is over
// (a second refusal says "tap your choice again").
"use strict";

(function () {
  const main = document.getElementById("audience");
  if (!main) return;
  // The page's texts in its language: a JSON block the server writes
  // (src/i18n), read once; `t` fills in {placeholders}.
  const texts = readTexts();

  // A page under /vote/{decision} is pinned to that one decision.
  const pinned = main.dataset.pinned || pinnedFromPath();

  const announce = ensureAnnounce();
  const connection = ensureConnectionStatus();

  // What the page shows now. The server's page does not name its slide: the
  // first state recognises it by its title (or else redraws it, quietly).
  const shown = {
    slide: main.dataset.slide || null,
    decision: main.dataset.decision || null,
    status: main.dataset.voteStatus || voteStatusInPage(),
  };
  let state = null; // last state from the server
  let confirmed = null; // the voter's choice as the server last confirmed it
  let pending = null; // a choice sent and not answered yet
  let retry = null; // { decision, choice, tries, timer } of a vote the store refused
  let soon = null; // { decision, choice, timer } of a vote sent again once the page is old enough
  let offlineTimer = null;
  let redraw = false; // the story was reloaded: draw the next state anew
  const { paintChoice, cssEscape } = window.cyoa;

  // The countdown is told to screen readers when it starts (or grows),
  // and at these seconds left: not every second.
  const ANNOUNCE_LEFT = [60, 30, 10];
  let toldCountdown = false; // this state's announcement already says it
  cyoa.countdown.onChange(function (seconds, before) {
    if (seconds === null || seconds === 0) return;
    const starts = before === null || seconds > before;
    if (toldCountdown && starts) return;
    if (starts || ANNOUNCE_LEFT.includes(seconds)) say(closesIn(seconds));
  });

  const pressed = main.querySelector('button[data-choice][aria-pressed="true"]');
  if (pressed) confirmed = pressed.dataset.choice;
  window.cyoa.paintBarsFromPage(main);

  // Votes go over the socket when it is open; otherwise the form posts.
  main.addEventListener("submit", function (event) {
    const button = event.submitter;
    if (!button || !button.dataset.choice) return;
    if (!isOpen()) return; // the plain form post
    const decision = formDecision(event.target) || shown.decision;
    if (!decision) return;
    event.preventDefault();
    pending = button.dataset.choice;
    markChoice(pending);
    stopRetry();
    sendVote(decision, pending);
  });

  function isOpen() {
    const socket = link.current();
    return Boolean(socket) && socket.readyState === WebSocket.OPEN;
  }

  function sendVote(decision, choice) {
    const same = retry && retry.decision === decision && retry.choice === choice;
    if (!same) retry = { decision: decision, choice: choice, tries: 0 };
    link.current().send(JSON.stringify({ type: "vote", decision: decision, choice: choice }));
  }

  function stopRetry() {
    if (retry) clearTimeout(retry.timer);
    retry = null;
  }

  // The vote store did not answer (an outage): the same vote again after a
  // growing pause, while it is still the choice on screen.
  function retryVote() {
    const r = retry;
    if (!r || r.tries >= 6) return false;
    r.tries += 1;
    clearTimeout(r.timer);
    r.timer = setTimeout(function () {
      if (retry !== r || r.decision !== shown.decision || pending !== r.choice) return;
      if (!isOpen()) return;
      sendVote(r.decision, r.choice);
    }, Math.min(500 * Math.pow(2, r.tries), 8000));
    return true;
  }

  // A vote refused as too soon after the page opened: sent once more when
  // the server's wait is over (at most 10 s), if it is still the pending one.
  function resendWhenOldEnough(message) {
    const vote = message.vote || {};
    if (soon && soon.decision === vote.decision && soon.choice === vote.choice) {
      soon = null; // the second refusal: the person taps again
      return false;
    }
    const s = { decision: vote.decision, choice: vote.choice };
    soon = s;
    const wait = Math.min(Math.max(Number(message.retry_ms) || 1000, 50), 10000);
    s.timer = setTimeout(function () {
      if (soon !== s || s.decision !== shown.decision || pending !== s.choice || !isOpen()) return;
      sendVote(s.decision, s.choice);
    }, wait + 50);
    return true;
  }

  const link = window.cyoa.socket("/ws", {
    maxDelay: 10000,
    onOpen: function () {
      setConnected(true);
    },
    onMessage: handle,
    onClose: function () {
      if (pending) {
        pending = null;
        markChoice(confirmed);
      }
      setConnected(false);
    },
  });
  window.addEventListener("online", link.reconnectNow);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) link.reconnectNow();
  });

  // ---- the socket -----------------------------------------------------------

  // "Reconnecting…" shows only when the socket stays down for a second, so
  // a quick reconnect (a proxy's idle timeout, a reload) does not flicker.
  function setConnected(up) {
    clearTimeout(offlineTimer);
    if (up) {
      connection.hidden = true;
      main.classList.remove("is-offline");
      return;
    }
    offlineTimer = setTimeout(function () {
      connection.hidden = false;
      main.classList.add("is-offline");
    }, 1000);
  }

  function handle(message) {
    switch (message.type) {
      case "state":
        if (message.state) onState(message.state);
        break;
      case "tally":
        onTally(message);
        break;
      case "story":
        redraw = true;
        break;
      case "voted":
        if (retry && retry.decision === message.decision) stopRetry();
        if (soon && soon.decision === message.decision) soon = null;
        if (message.decision === shown.decision) {
          confirmed = message.choice || null;
          pending = null;
          markChoice(confirmed);
          updateHint();
          say(confirmed ? t("your_vote", { label: choiceLabel(confirmed) }) : t("withdrawn"));
        }
        break;
      case "error":
        // The room code of this page's run no longer lets it in (a new run
        // began): the page, loaded again, asks for the new code.
        if (message.code === "room_code") {
          location.reload();
          break;
        }
        if (!message.vote) {
          // A notice (say a state push that failed), not the answer to a vote.
          say(errorText(message, "catch_up"), true);
          break;
        }
        if (message.code === "store" && pending && retryVote()) {
          say(t("retrying"), true);
          break;
        }
        if (message.code === "too_soon" && pending && resendWhenOldEnough(message)) break;
        stopRetry();
        pending = null;
        markChoice(confirmed);
        say(errorText(message, "try_again"), true);
        break;
    }
  }

  // ---- following the talk ---------------------------------------------------

  // The links to /results and /explore, shown while the presenter has
  // published them (the server drew them, in the page's language).
  function showPublished(published) {
    const nav = document.getElementById("published-links");
    if (!nav) return;
    let any = false;
    nav.querySelectorAll("[data-published-link]").forEach(function (link) {
      const on = Boolean(published && published[link.dataset.publishedLink]);
      link.hidden = !on;
      any = any || on;
    });
    nav.hidden = !any;
  }

  function onState(next) {
    showPublished(next.published);
    const decision = next.decision;
    if (pinned && (!decision || decision.id !== pinned)) {
      // A pinned page keeps its decision and offers the live page instead.
      state = state || next;
      showMovedOn();
      return;
    }
    state = next;
    const slideId = next.slide ? next.slide.id : null;
    const decisionId = decision ? decision.id : null;
    const status = decision ? decision.status : null;
    if (decisionId !== shown.decision) pending = null;
    confirmed = next.you || null;
    if (shown.slide === null && slideId !== null && decisionId === shown.decision && status === shown.status) {
      // The server's page does not name its slide; its title tells.
      const title = main.querySelector("h1");
      if (title && next.slide && title.textContent.trim() === next.slide.title) shown.slide = slideId;
    }
    const same =
      String(next.run) === main.dataset.run &&
      slideId === shown.slide &&
      decisionId === shown.decision &&
      status === shown.status;
    if (same && !redraw) {
      markChoice(pending || confirmed);
      updateHint();
      updateCounts(decision);
      cyoa.countdown.set(next.timer);
      return;
    }
    const known = shown.slide !== null;
    redraw = false;
    render(next);
    // A vote that opens with its countdown says both at once.
    const timer = next.timer && decision && decision.status === "open" ? next.timer : null;
    if (known) say(describe(next) + (timer ? " " + closesIn(Math.ceil(timer.remaining_ms / 1000)) : ""));
    toldCountdown = known && Boolean(timer);
    cyoa.countdown.set(next.timer);
    toldCountdown = false;
  }

  // "The vote closes in 0:12".
  function closesIn(seconds) {
    return t("closes_in", { time: cyoa.countdown.clock(seconds) });
  }

  function onTally(tally) {
    const decision = state && state.decision;
    if (!decision || tally.decision !== decision.id) return;
    const votes = new Map((tally.choices || []).map((c) => [c.id, c.votes]));
    decision.choices.forEach(function (c) {
      if (votes.has(c.id)) c.votes = votes.get(c.id);
    });
    if (typeof tally.total === "number") decision.total = tally.total;
    decision.hidden = Boolean(tally.hidden);
    if (tally.winner !== undefined) decision.winner = tally.winner;
    if (tally.tie !== undefined) decision.tie = tally.tie;
    if (tally.decision === shown.decision) updateCounts(decision);
  }

  // Rebuilds the page's content from a state, keeping the story title and
  // the live regions (so screen readers keep listening to them).
  function render(next) {
    const active = document.activeElement;
    const focusedChoice = active && active.dataset ? active.dataset.choice : undefined;
    const keep = new Set([
      announce,
      connection,
      main.querySelector(".story-title"),
      main.querySelector(".logo"),
      document.getElementById("published-links"),
    ]);
    Array.from(main.children).forEach(function (child) {
      if (!keep.has(child)) child.remove();
    });
    const anchor = announce.parentNode === main ? announce : null;
    build(next).forEach((node) => main.insertBefore(node, anchor));

    const decision = next.decision;
    shown.slide = next.slide ? next.slide.id : null;
    shown.decision = decision ? decision.id : null;
    shown.status = decision ? decision.status : null;
    main.dataset.run = String(next.run);
    main.dataset.slide = shown.slide || "";
    main.dataset.decision = shown.decision || "";
    main.dataset.voteStatus = shown.status || "";
    markChoice(pending || confirmed);
    updateHint();
    // Bars drawn at 0 first, so that they grow to their share.
    void main.offsetWidth;
    updateCounts(decision);
    if (focusedChoice) {
      const again = main.querySelector('button[data-choice="' + cssEscape(focusedChoice) + '"]');
      if (again) again.focus();
    }
  }

  // The markup of templates/audience.html and templates/decision.html.
  function build(next) {
    const nodes = [el("h1", { class: "slide-title" }, next.slide ? next.slide.title : "")];
    // An image slide's words (an imported page's text), as the page draws them.
    if (next.slide && next.slide.alt) nodes.push(el("p", { class: "slide-alt" }, next.slide.alt));
    const decision = next.decision;
    if (!decision) {
      nodes.push(el("p", { class: "waiting" }, t("follow")));
      return nodes;
    }
    const section = el("section", { class: "vote", "aria-labelledby": "prompt", "data-vote-status": decision.status });
    section.append(el("h2", { id: "prompt", class: "prompt" }, decision.prompt));
    if (decision.status === "open") {
      // templates/countdown.html; common.js counts it down.
      section.append(el("p", { class: "countdown", "data-countdown": "", "data-template": texts.closes_in || "{time}", hidden: "" }));
      const form = el("form", { method: "post", action: "/vote/" + encodeURIComponent(decision.id), class: "ballot" });
      // The page's token for its voter, as the server's own form carries it.
      form.append(el("input", { type: "hidden", name: "token", value: main.dataset.formToken || "" }));
      decision.choices.forEach(function (choice) {
        const button = el("button", {
          type: "submit",
          name: "choice",
          value: choice.id,
          "data-choice": choice.id,
          "aria-pressed": "false",
        });
        button.append(
          el("span", { class: "choice-number", "aria-hidden": "true" }, String(choice.letter || choice.number)),
          document.createTextNode(" "),
          el("span", { class: "choice-label" }, choice.label),
        );
        form.append(button);
      });
      section.append(form, el("p", { class: "hint" }));
      if (next.sms && next.sms.number) section.append(smsLine(next.sms.number, decision.choices.length));
    } else if (decision.status === "closed") {
      section.append(...buildResult(decision));
    } else {
      section.append(el("p", { class: "waiting", "data-status": "" }, t("not_open_yet")));
    }
    nodes.push(section);
    return nodes;
  }

  // "Or text 1–2 or A–B to +1…", as templates/audience.html writes it.
  function smsLine(number, count) {
    const letter = (i) => String.fromCharCode(65 + (i % 26));
    const or = " " + t("or") + " ";
    const keys = count <= 1 ? "1" + or + "A" : count <= 26 ? "1–" + count + or + "A–" + letter(count - 1) : "1–" + count;
    const line = el("p", { class: "sms", "data-sms": "" }, t("or_text", { keys: keys }));
    line.append(el("a", { href: "sms:" + number }, number));
    return line;
  }

  function buildResult(decision) {
    const list = el("ol", { class: "choices" });
    decision.choices.forEach(function (choice) {
      const item = el("li", { class: "choice", "data-choice-row": choice.id });
      const count = el("span", { class: "choice-count" });
      count.append(
        el("span", { class: "choice-votes", "data-tally": choice.id }, String(choice.votes || 0)),
        el("span", { class: "visually-hidden" }, t("votes_after")),
        document.createTextNode(" "),
        el("span", { class: "choice-percent", "data-percent": choice.id }),
      );
      const bar = el("span", { class: "bar", "aria-hidden": "true" });
      bar.append(el("span", { "data-bar": choice.id }));
      item.append(
        el("span", { class: "choice-number" }, String(choice.number)),
        document.createTextNode(" "),
        el("span", { class: "choice-label" }, choice.label),
        document.createTextNode(" "),
        count,
        bar,
      );
      list.append(item);
    });
    const total = el("p", { class: "total" }, t("votes"));
    total.append(el("span", { "data-total": "" }));
    return [
      list,
      total,
      el("p", { class: "status", "data-status": "" }, t("closed")),
      el("p", { class: "winner", "data-winner": "", "data-winner-prefix": t("winner_prefix") }),
    ];
  }

  // Keeps counts, bars and the outcome in step with a decision.
  function updateCounts(decision) {
    if (!decision) return;
    const total = decision.total || 0;
    decision.choices.forEach(function (choice) {
      // Hidden results carry no counts: the rows keep none.
      if (!decision.hidden) paintChoice(main, choice.id, choice.votes || 0, total);
      main.querySelectorAll('[data-choice-row="' + cssEscape(choice.id) + '"]').forEach(function (row) {
        const tied = Array.isArray(decision.tie) && decision.tie.includes(choice.id);
        row.classList.toggle("winner", decision.winner === choice.id || tied);
        row.classList.toggle("yours", confirmed === choice.id);
      });
    });
    main.querySelectorAll("[data-total]").forEach(function (node) {
      node.textContent = String(total);
    });
    main.querySelectorAll("[data-winner]").forEach(function (node) {
      node.textContent = outcome(decision);
      node.dataset.outcome = decision.winner ? "winner" : decision.tie && decision.tie.length ? "tie" : "none";
    });
  }

  function updateHint() {
    const hint = main.querySelector(".hint");
    if (!hint) return;
    const choice = pending || confirmed;
    hint.textContent = choice ? t("hint_voted", { label: choiceLabel(choice) }) : t("hint_vote");
  }

  // The winner's label, "Tie: A and B", or nothing (as the server writes it).
  function outcome(decision) {
    if (decision.winner) return choiceLabel(decision.winner, decision);
    const tie = Array.isArray(decision.tie) ? decision.tie.map((id) => choiceLabel(id, decision)) : [];
    if (tie.length < 2) return tie.join("");
    return t("tie", { choices: tie.slice(0, -1).join(", ") + " " + t("and") + " " + tie[tie.length - 1] });
  }

  function describe(next) {
    const d = next.decision;
    if (!d) return t("now", { title: next.slide ? next.slide.title : "" });
    if (d.status === "open") return t("open", { prompt: d.prompt });
    if (d.status === "closed") return t("closed_outcome", { outcome: outcome(d) }).trim();
    return t("coming_up", { prompt: d.prompt });
  }

  function showMovedOn() {
    if (main.querySelector(".moved-on")) return;
    const note = el("p", { class: "moved-on" }, t("moved_on") + " ");
    note.append(el("a", { href: "/" }, t("follow_live")));
    main.insertBefore(note, announce.parentNode === main ? announce : null);
    say(t("moved_on"));
  }

  // ---- helpers --------------------------------------------------------------

  function markChoice(choice) {
    main.querySelectorAll("button[data-choice]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.choice === choice ? "true" : "false");
    });
  }

  function choiceLabel(id, decision) {
    const d = decision || (state && state.decision);
    const found = d && d.choices.find((c) => c.id === id);
    if (found) return found.label;
    const button = main.querySelector('button[data-choice="' + cssEscape(id || "") + '"]');
    if (!button) return id;
    const label = button.querySelector(".choice-label");
    if (label) return label.textContent.trim();
    const number = button.querySelector(".choice-number");
    return button.textContent.slice(number ? number.textContent.length : 0).trim();
  }

  function voteStatusInPage() {
    const section = main.querySelector("[data-vote-status]");
    return section ? section.dataset.voteStatus : null;
  }

  function pinnedFromPath() {
    const match = location.pathname.match(/^\/vote\/([^/]+)\/?$/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function formDecision(form) {
    const match = (form.getAttribute("action") || "").match(/\/vote\/([^/?#]+)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // Tells screen readers; shows the text too when it is a problem (other
  // changes are already visible on the page).
  function say(text, problem) {
    // Clearing first makes screen readers announce a repeated message again.
    announce.textContent = "";
    announce.classList.toggle("problem", Boolean(problem));
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
      node = el("p", { id: "connection", class: "connection", role: "status" }, t("reconnecting"));
      main.append(node);
    }
    node.hidden = true;
    return node;
  }

  // A refusal in the page's language: English keeps the server's message,
  // with its details; another language has a text per error code.
  function errorText(message, fallback) {
    const translated = document.documentElement.lang !== "en" ? t("error_" + message.code) : "";
    return translated || message.message || t(fallback);
  }

  // The page's texts (English when the block is missing or broken).
  function readTexts() {
    const block = document.getElementById("cyoa-texts");
    try {
      return (block && JSON.parse(block.textContent)) || {};
    } catch (_) {
      return {};
    }
  }

  // The text `key` with {name} filled from `values`; "" for an unknown key.
  function t(key, values) {
    const text = Object.prototype.hasOwnProperty.call(texts, key) ? String(texts[key]) : "";
    return text.replace(/\{([a-z_]+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([name, value]) => node.setAttribute(name, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }
})();
