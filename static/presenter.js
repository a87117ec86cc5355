// cyoa presenter view: live tallies, keyboard control, slide changes.
//
// The server's /presenter page is the source of every slide's markup: when
// the run, the slide or the vote status changes, this script fetches the
// page again and swaps the <main> content. Tallies are updated in place from
// the `tally` messages of /ws?role=presenter (only the total while the
// story hides results), and told to screen readers now and then.
"use strict";

(function () {
  const main = document.getElementById("presenter");
  if (!main) return;

  let state = null; // last state from the server
  let offlineTimer = null;
  let flashTimer = null;
  // Screen readers hear the tally at most this often, not on every vote.
  const ANNOUNCE_EVERY = 5000;
  let announceTimer = null;
  let announcedAt = 0;
  let announced = "";
  // The slide's text scale: see "fitting the screen" below.
  const FIT_MIN = 0.6;
  const FIT_STEPS = 7;
  let fitFrame = 0;

  // The keys are static/keys.js (one table for every presenter screen);
  // the story map overlay (M) is static/map.js, which the page loads after
  // this script (with its version, like every static file).

  const flashBox = ensure("flash", "p", { class: "flash", role: "alert" });
  const connection = ensure("connection", "p", { class: "connection", role: "status" }, "Reconnecting…");
  flashBox.hidden = true;
  connection.hidden = true;

  const { paintChoice, percent, cssEscape } = window.cyoa;
  window.cyoa.paintBarsFromPage(main);
  window.cyoa.socket("/ws?role=presenter", {
    maxDelay: 8000,
    onOpen: function () {
      clearTimeout(offlineTimer);
      connection.hidden = true;
    },
    onMessage: onMessage,
    onClose: function () {
      // Shown only if the socket stays down, so a quick reconnect does not flicker.
      clearTimeout(offlineTimer);
      offlineTimer = setTimeout(function () {
        connection.hidden = false;
      }, 1000);
    },
  });
  fitSoon();
  window.addEventListener("resize", fitSoon);
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(fitSoon);
  cyoa.keys.start("view", { state: () => state, onState: onState, flash: flash });
  cyoa.keys.on("fullscreen", toggleFullscreen);
  // The countdown's line takes room on the slide when it shows or goes.
  cyoa.countdown.onChange(function (seconds, before) {
    if ((seconds === null) !== (before === null)) fitSoon();
  });

  // ---- live updates -------------------------------------------------------

  function onMessage(message) {
    document.dispatchEvent(new CustomEvent("cyoa:message", { detail: message }));
    if (message.type === "state" && message.state) onState(message.state);
    else if (message.type === "tally") onTally(message);
    // The story file was reloaded, or an edit refused: draw the page anew.
    else if (message.type === "story") reloadSlide();
    else if (message.type === "error") flash(message.message || "The server refused that.");
  }

  function onState(next) {
    state = next;
    cyoa.countdown.set(next.timer);
    // The room code (presenter only), in step with the run.
    if (next.room_code) {
      main.querySelectorAll("[data-room-code]").forEach(function (node) {
        node.textContent = next.room_code;
      });
    }
    const status = next.decision ? next.decision.status : "";
    const same =
      String(next.run) === main.dataset.run &&
      next.slide &&
      next.slide.id === main.dataset.slide &&
      (main.dataset.voteStatus || "") === status;
    if (same) {
      paint(next.decision);
    } else {
      reloadSlide();
    }
  }

  function onTally(tally) {
    // Choice ids may repeat across decisions: only this slide's tally counts.
    if (tally.decision !== main.dataset.decision) return;
    if (!state || !state.decision || state.decision.id !== tally.decision) {
      paintTally(tally);
      return;
    }
    const d = state.decision;
    const votes = new Map((tally.choices || []).map((c) => [c.id, c.votes]));
    d.choices.forEach(function (c) {
      if (votes.has(c.id)) c.votes = votes.get(c.id);
    });
    d.total = tally.total;
    d.hidden = Boolean(tally.hidden);
    if (tally.winner !== undefined) d.winner = tally.winner;
    if (tally.tie !== undefined) d.tie = tally.tie;
    paint(d);
  }

  // Fetches the presenter page again and swaps in its <main>. A tally that
  // arrived during the fetch may be newer than the page: painted after.
  const reloadSlide = cyoa.pageReloader("/presenter", "presenter", swapMain, function () {
    cyoa.countdown.paint();
    if (state && state.slide && state.slide.id === main.dataset.slide) paint(state.decision);
  }, function (text) { flash(text); });

  function swapMain(fresh) {
    const keep = new Set([flashBox, connection, document.getElementById("tally-announce")]);
    Array.from(main.childNodes).forEach(function (node) {
      if (!keep.has(node)) node.remove();
    });
    Array.from(main.attributes).forEach(function (attr) {
      if (attr.name !== "id") main.removeAttribute(attr.name);
    });
    Array.from(fresh.attributes).forEach((attr) => main.setAttribute(attr.name, attr.value));
    Array.from(fresh.childNodes).forEach(function (node) {
      // The live regions stay (screen readers keep listening to them).
      if (node.id === "flash" || node.id === "connection" || node.id === "tally-announce") return;
      main.insertBefore(document.importNode(node, true), flashBox);
    });
    window.cyoa.paintBarsFromPage(main);
    fitSoon();
  }

  // ---- fitting the screen -------------------------------------------------

  // The slide's text scale (`--fit`, 1 = as designed) is the largest, found
  // by a binary search, at which nothing on the view is clipped; never below
  // FIT_MIN, the smallest text still read from the back of a hall (docs/
  // story-format.md; `cyoa check` warns about a slide that needs less). Done on
  // load, on a resize, on a slide change and when the leading line changes;
  // not on every vote.

  function fitSoon() {
    if (fitFrame) return;
    fitFrame = requestAnimationFrame(function () {
      fitFrame = 0;
      fit();
    });
  }

  function fit() {
    const boxes = clippingBoxes();
    const fits = function (scale) {
      main.style.setProperty("--fit", String(scale));
      return boxes.every((box) => box.scrollHeight <= box.clientHeight + 1 && box.scrollWidth <= box.clientWidth + 1);
    };
    let best = 1;
    if (!fits(1)) {
      let low = FIT_MIN;
      let high = 1;
      for (let step = 0; step < FIT_STEPS; step++) {
        const middle = (low + high) / 2;
        if (fits(middle)) low = middle;
        else high = middle;
      }
      best = Math.floor(low * 1000) / 1000;
      fits(best);
    }
    main.dataset.fit = String(best);
    main.dataset.fitSize = window.innerWidth + "x" + window.innerHeight;
    // Images load after the page: fit again once they have their size.
    main.querySelectorAll("img").forEach(function (img) {
      if (!img.complete) img.addEventListener("load", fitSoon, { once: true });
    });
  }

  // The view and every box in it that cuts off what overflows it (the
  // slide, its body, code blocks), except those hidden on purpose.
  function clippingBoxes() {
    return [main].concat(
      Array.from(main.querySelectorAll("*")).filter(function (node) {
        if (node.closest(".visually-hidden, [hidden]")) return false;
        const style = getComputedStyle(node);
        return style.display !== "none" && /hidden|clip/.test(style.overflowX + style.overflowY);
      }),
    );
  }

  // ---- painting -----------------------------------------------------------

  function paint(decision) {
    if (!decision || decision.id !== main.dataset.decision) return;
    paintTally({
      decision: decision.id,
      choices: decision.choices,
      total: decision.total,
      winner: decision.winner,
      tie: decision.tie,
      hidden: decision.hidden,
    });
  }

  function paintTally(tally) {
    const total = tally.total || 0;
    main.querySelectorAll("[data-total]").forEach(function (node) {
      node.textContent = String(total);
    });
    paintNotEnough(total);
    // Hidden results: the page has no counts to paint, only the total.
    if (!tally.hidden) {
      (tally.choices || []).forEach(function (choice) {
        paintChoice(main, choice.id, choice.votes || 0, total);
        main.querySelectorAll('[data-choice-row="' + cssEscape(choice.id) + '"]').forEach(function (row) {
          const tied = Array.isArray(tally.tie) && tally.tie.includes(choice.id);
          row.classList.toggle("winner", tally.winner === choice.id || tied);
        });
      });
      main.querySelectorAll("[data-winner]").forEach(function (node) {
        const text = winnerText(tally);
        // A new leading line may take more room: fit again (not on every vote).
        if (node.textContent !== text) fitSoon();
        node.textContent = text;
        node.dataset.outcome = outcomeKind(tally.winner, tally.tie);
      });
    }
    announceTally(tally);
  }

  // "Not enough votes: 3 of 10" while the vote has fewer than its
  // min_votes (the server draws it; the count moves here).
  function paintNotEnough(total) {
    main.querySelectorAll("[data-not-enough]").forEach(function (node) {
      const needed = Number(node.dataset.minVotes);
      const short = main.dataset.voteStatus !== "pending" && total < needed;
      node.hidden = !short;
      node.textContent = short
        ? (node.dataset.template || "").replace("{total}", String(total)).replace("{needed}", String(needed))
        : "";
    });
  }

  // Tells screen readers the tally through the polite live region, at most
  // every ANNOUNCE_EVERY: the latest tally when the pause is over.
  function announceTally(tally) {
    const region = document.getElementById("tally-announce");
    if (!region) return;
    let text = (tally.total || 0) + (tally.total === 1 ? " vote." : " votes.");
    if (!tally.hidden && tally.winner) {
      const top = (tally.choices || []).find((c) => c.id === tally.winner);
      const share = top ? " with " + percent(top.votes || 0, tally.total || 0) + "%" : "";
      text += " Leading: " + label(tally.winner) + share + ".";
    } else if (!tally.hidden && Array.isArray(tally.tie) && tally.tie.length) {
      text += " " + winnerText(tally) + ".";
    }
    if (text === announced) return;
    clearTimeout(announceTimer);
    const wait = Math.max(0, announcedAt + ANNOUNCE_EVERY - Date.now());
    announceTimer = setTimeout(function () {
      announced = text;
      announcedAt = Date.now();
      const live = document.getElementById("tally-announce");
      if (live) live.textContent = text;
    }, wait);
  }

  // The winner's label, "Tie: A and B", or nothing (as the server writes it).
  function winnerText(tally) {
    if (tally.winner) return label(tally.winner);
    const tie = Array.isArray(tally.tie) ? tally.tie.map(label) : [];
    if (tie.length < 2) return tie.join("");
    // In the room's language, from the page's texts (as the server writes it).
    const texts = pageTexts();
    const and = texts.and || "and";
    const choices = tie.slice(0, -1).join(", ") + " " + and + " " + tie[tie.length - 1];
    return (texts.tie || "Tie: {choices}").replace("{choices}", choices);
  }

  function pageTexts() {
    const block = document.getElementById("cyoa-texts");
    try {
      return (block && JSON.parse(block.textContent)) || {};
    } catch (_) {
      return {};
    }
  }

  function outcomeKind(winner, tie) {
    if (winner) return "winner";
    return Array.isArray(tie) && tie.length ? "tie" : "none";
  }

  function label(id) {
    const d = state && state.decision;
    const found = d && d.choices.find((c) => c.id === id);
    return found ? found.label : id;
  }

  // ---- control ------------------------------------------------------------

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen().catch(function () {});
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => flash("Full screen is not available here."));
    }
  }

  function flash(text) {
    flashBox.textContent = text;
    flashBox.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () {
      flashBox.hidden = true;
    }, 4000);
  }

  // ---- helpers ------------------------------------------------------------

  function ensure(id, tag, attrs, text) {
    let node = document.getElementById(id);
    if (!node) {
      node = document.createElement(tag);
      node.id = id;
      Object.entries(attrs).forEach(([name, value]) => node.setAttribute(name, value));
      if (text) node.textContent = text;
      main.append(node);
    }
    return node;
  }
})();
