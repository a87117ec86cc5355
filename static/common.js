// cyoa pieces shared by the audience and presenter pages: painting the
// Tally (counts, shares, bars) and the WebSocket that reopens itself. Loaded (deferred) before
// the page scripts, which find it as `window.cyoa`.
"use strict";

(function () {
  // Opens `path` on this host's WebSocket and reopens it whenever it closes.
  // `options`: onOpen(), onMessage(parsed JSON), onClose(), maxDelay (ms).
  // Returns { current(): the open-or-opening socket or null, reconnectNow() }.
  function socket(path, options) {
    let current = null;
    let attempt = 0;
    let reconnectTimer = null;

    function connect() {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      let ws;
      try {
        ws = new WebSocket(scheme + "//" + location.host + path);
      } catch (_) {
        scheduleReconnect();
        return;
      }
      current = ws;
      ws.addEventListener("open", function () {
        attempt = 0;
        if (options.onOpen) options.onOpen();
      });
      ws.addEventListener("message", function (event) {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (_) {
          return;
        }
        options.onMessage(message);
      });
      ws.addEventListener("close", function () {
        if (current !== ws) return;
        current = null;
        if (options.onClose) options.onClose();
        scheduleReconnect();
      });
    }

    function scheduleReconnect() {
      if (reconnectTimer) return;
      // Exponential backoff with jitter, so a room full of phones does not
      // reconnect in lockstep after a server restart.
      const base = Math.min(options.maxDelay, 500 * Math.pow(2, attempt));
      attempt += 1;
      reconnectTimer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
    }

    function reconnectNow() {
      if (current && current.readyState <= WebSocket.OPEN) return;
      attempt = 0;
      connect();
    }

    connect();
    return { current: () => current, reconnectNow: reconnectNow };
  }

  // A bar (a <meter>, or an element whose width shows the share) for a
  // Choice with `votes` of `total`.
  function setBar(node, votes, total) {
    if (node.tagName === "METER") {
      node.max = Math.max(total, 1);
      node.value = votes;
      node.textContent = String(votes);
    } else {
      node.style.width = (total > 0 ? (100 * votes) / total : 0) + "%";
    }
  }

  // Whole-percent share, rounded as the server rounds it.
  function percent(votes, total) {
    return total > 0 ? Math.round((100 * votes) / total) : 0;
  }

  // One Choice's count, share and bar inside `root`.
  function paintChoice(root, id, votes, total) {
    const key = '="' + cssEscape(id) + '"]';
    root.querySelectorAll("[data-tally" + key).forEach(function (node) {
      node.textContent = String(votes);
    });
    root.querySelectorAll("[data-percent" + key).forEach(function (node) {
      node.textContent = percent(votes, total) + "%";
    });
    root.querySelectorAll("[data-bar" + key).forEach((node) => setBar(node, votes, total));
  }

  // A page fresh from the server has counts but no bar widths yet: the bars
  // inside `main` take their widths from its counts. Called right after the
  // bars are drawn at 0, they grow to their share (a CSS transition).
  function paintBarsFromPage(main) {
    let total = 0;
    const counts = new Map();
    main.querySelectorAll("[data-tally]").forEach(function (node) {
      const n = parseInt(node.textContent, 10) || 0;
      counts.set(node.dataset.tally, n);
      total += n;
    });
    // Reading a layout property makes the browser draw the bars at 0 first,
    // so that setting their widths is a change it animates.
    void main.offsetWidth;
    main.querySelectorAll("[data-bar]").forEach((bar) => setBar(bar, counts.get(bar.dataset.bar) || 0, total));
    // The server marks the winner's row (or the tied rows) with "winner".
    const rows = main.querySelectorAll("[data-choice-row].winner").length;
    main.querySelectorAll("[data-winner]").forEach(function (node) {
      node.dataset.outcome = rows === 1 ? "winner" : rows > 1 ? "tie" : "none";
    });
  }

  // A function that fetches `url` again and hands `onFresh` the element
  // `id` of the new page (and the page, for its title). Calls made while a
  // fetch runs are folded into one more fetch after it; `onDone` runs after
  // the last. `flash(text)` tells the presenter what went wrong.
  function pageReloader(url, id, onFresh, onDone, flash) {
    let fetching = false;
    let refetch = false;
    return async function reload() {
      if (fetching) {
        refetch = true;
        return;
      }
      fetching = true;
      try {
        do {
          refetch = false;
          const response = await fetch(url, { headers: { Accept: "text/html" }, cache: "no-store" });
          // A 503 may be the page saying the vote store lost its data: shown like a slide.
          if (!response.ok && response.status !== 503) {
            flash(response.status === 401 ? "Logged out: open the presenter link with its token again." : "Could not load the slide (" + response.status + ").");
            break;
          }
          const doc = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = doc.getElementById(id);
          if (!fresh) {
            if (!response.ok) flash("Could not load the slide (" + response.status + ").");
            break;
          }
          onFresh(fresh);
          if (doc.title) document.title = doc.title;
        } while (refetch);
      } catch (_) {
        flash("Could not load the slide; retrying when the connection is back.");
      } finally {
        fetching = false;
      }
      onDone();
    };
  }

  // POSTs `body` (JSON) to the presenter API at `url`. Resolves to the
  // answer's JSON (null when it has none), or undefined when refused or
  // unreachable, having said why through `flash`.
  async function presenterPost(url, body, flash) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Cyoa-Presenter": "1", Accept: "application/json" },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
    } catch (_) {
      flash("The server cannot be reached.");
      return undefined;
    }
    const payload = await response.json().catch(() => null);
    if (!response.ok) {
      flash((payload && payload.message) || "The server refused that (" + response.status + ").");
      return undefined;
    }
    return payload;
  }

  // Sends the presenter command `name` (`body`: its JSON) and hands the
  // new state to `onState`; a refusal or a lost connection goes to `flash`.
  async function presenterCommand(name, body, onState, flash) {
    const payload = await presenterPost("/api/presenter/" + name, body, flash);
    if (payload && payload.slide) onState(payload);
  }

  // Names run `run` `label` (empty: removes the name); says so, or why
  // not, through `flash`. Resolves to the label kept (null: none), or
  // undefined when refused.
  async function labelRun(run, label, flash) {
    const payload = await presenterPost("/api/runs/" + encodeURIComponent(run) + "/label", { label: label }, flash);
    if (payload === undefined) return undefined;
    const kept = payload ? payload.label : null;
    flash(kept ? "Run " + run + " is named \u201c" + kept + "\u201d." : "Run " + run + " has no name now.");
    return kept;
  }

  // Opens (`on` true) or closes run `run`'s results to the audience.
  // Resolves to whether they are published now, or undefined when refused.
  async function publishRun(run, on, flash) {
    const url = "/api/runs/" + encodeURIComponent(run) + "/results";
    const payload = await presenterPost(url, { published: on }, flash);
    return payload ? payload.published : undefined;
  }

  // Logs this browser out of the presenter view, after asking (a stray key
  // must not end the presenter's login in the middle of the talk), then
  // shows the page the logout leads to.
  async function presenterLogout(flash) {
    if (!window.confirm("Log out of the presenter view on this browser?")) return;
    let response;
    try {
      response = await fetch("/presenter/logout", {
        method: "POST",
        headers: { "X-Cyoa-Presenter": "1", Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (_) {
      return flash("The server cannot be reached.");
    }
    if (!response.ok) {
      let payload = null;
      try {
        payload = await response.json();
      } catch (_) {
        payload = null;
      }
      return flash((payload && payload.message) || "The server refused that (" + response.status + ").");
    }
    window.location.assign(response.redirected ? response.url : "/presenter/logged-out");
  }

  // ---- the vote's countdown ------------------------------------------------
  // Every [data-countdown] line on the page (templates/countdown.html) shows
  // the open vote's time left. It counts down from the server's
  // `remaining_ms` (a state's `timer`, computed by the server as it sent
  // the state) on this page's own monotonic clock, never from the device's
  // wall clock, so every screen agrees with the server and with each other.
  // Its last ENDING seconds get the class `countdown-ending` (a calm change
  // of look, no flashing). Listeners hear (seconds left, before) whenever
  // the whole seconds change; null: no countdown runs.
  const countdown = (function () {
    const ENDING = 10;
    let endsAt = null;
    let shown = null;
    let ticker = null;
    const listeners = [];

    // 0:12, 1:05.
    function clock(seconds) {
      return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    }

    function left() {
      return endsAt === null ? null : Math.max(0, Math.ceil((endsAt - performance.now()) / 1000));
    }

    function paint() {
      const seconds = left();
      document.querySelectorAll("[data-countdown]").forEach(function (node) {
        node.hidden = seconds === null;
        if (seconds === null) return;
        const text = (node.dataset.template || "{time}").replace("{time}", clock(seconds));
        if (node.textContent !== text) node.textContent = text;
        node.classList.toggle("countdown-ending", seconds <= ENDING);
      });
      if (seconds !== shown) {
        const before = shown;
        shown = seconds;
        listeners.forEach((listener) => listener(seconds, before));
      }
      if ((seconds === null || seconds === 0) && ticker) {
        clearInterval(ticker);
        ticker = null;
      }
    }

    // Follows `timer` (a state's `timer`; null: none runs).
    function set(timer) {
      const ms = timer && typeof timer.remaining_ms === "number" ? timer.remaining_ms : null;
      endsAt = ms === null ? null : performance.now() + ms;
      if (endsAt !== null && !ticker) ticker = setInterval(paint, 200);
      paint();
    }

    return {
      set: set,
      paint: paint,
      clock: clock,
      onChange: (listener) => listeners.push(listener),
    };
  })();

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
  }

  window.cyoa = {
    socket: socket,
    setBar: setBar,
    percent: percent,
    paintChoice: paintChoice,
    paintBarsFromPage: paintBarsFromPage,
    cssEscape: cssEscape,
    pageReloader: pageReloader,
    presenterCommand: presenterCommand,
    presenterLogout: presenterLogout,
    labelRun: labelRun,
    publishRun: publishRun,
    countdown: countdown,
  };
})();
