// cyoa theme: applies the story's colours (<html data-accent="..."
// data-background="..." data-text="...">).
//
// CSS cannot read a colour from an attribute, and the Content-Security-Policy
// forbids inline styles, so this sets the custom properties through the
// CSSOM. What the story does not set is derived so that text stays readable:
// the text on the accent, the text on the background, and the accent used
// as text (links) when the accent itself is too pale or too dark to read.
"use strict";

(function () {
  const root = document.documentElement;
  const DARK = "#10111a";
  const LIGHT = "#ffffff";
  const colour = (value) => (value && window.CSS && CSS.supports("color", value) ? value : null);
  const accent = colour(root.dataset.accent);
  const background = colour(root.dataset.background);
  const text = colour(root.dataset.text);
  if (!accent && !background && !text) return;

  if (background) {
    const dark = luminance(background) <= 0.179;
    root.style.setProperty("--bg", background);
    root.style.setProperty("--surface", background);
    // The palette (muted text, borders, bar tracks) that goes with it.
    if (!root.dataset.theme) root.dataset.theme = dark ? "dark" : "light";
    if (!text) root.style.setProperty("--fg", dark ? LIGHT : DARK);
  }
  if (text) root.style.setProperty("--fg", text);
  if (accent) {
    root.style.setProperty("--accent", accent);
    root.style.setProperty("--accent-fg", luminance(accent) > 0.179 ? DARK : LIGHT);
  }
  // The accent as text on the page's background: itself when it reads
  // (WCAG AA, 4.5:1), else the text colour.
  const style = getComputedStyle(root);
  const bg = style.getPropertyValue("--bg").trim();
  const ink = style.getPropertyValue("--accent").trim();
  const fg = style.getPropertyValue("--fg").trim();
  root.style.setProperty("--accent-ink", contrast(ink, bg) >= 4.5 ? ink : fg);

  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }

  // Relative luminance (WCAG) of any CSS colour, via its computed rgb().
  function luminance(color) {
    const probe = document.createElement("span");
    probe.style.color = color;
    probe.hidden = true;
    root.append(probe);
    const rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || ["0", "0", "0"]).slice(0, 3).map(Number);
    probe.remove();
    const [r, g, b] = rgb.map(function (v) {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
})();
