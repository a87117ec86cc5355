// cyoa theme: applies the story's accent colour (<html data-accent="...">).
//
// CSS cannot read a colour from an attribute, and the Content-Security-Policy
// forbids inline styles, so this sets the custom properties through the
// CSSOM, with a text colour that stays readable on the accent.
"use strict";

(function () {
  const root = document.documentElement;
  const accent = root.dataset.accent;
  if (!accent || !window.CSS || !CSS.supports("color", accent)) return;
  root.style.setProperty("--accent", accent);
  root.style.setProperty("--accent-fg", luminance(accent) > 0.179 ? "#10111a" : "#ffffff");

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
