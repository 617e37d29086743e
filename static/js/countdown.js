"use strict";
/* Countdowns from data-open-at (epoch ms); without JS each shows its UTC time. Live listing frames
   (pushed to the user's own group) update the row and ask the board to refresh. They arrive through
   live.js's one socket as "brute:listing" events: a second socket here would double every user event
   and, unlike live.js's, never reconnect after the live process restarts. */
(function () {
  if (window.sniperCountdown) return; window.sniperCountdown = true;
  function fmt(ms) { var s = Math.max(0, Math.floor(ms / 1000)), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + "d " : "") + String(h).padStart(2, "0") + ":" + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0"); }
  function tick() { document.querySelectorAll("[data-open-at]").forEach(function (el) {
    var left = Number(el.dataset.openAt) - Date.now(); if (!el.title) el.title = el.textContent;
    el.textContent = left > 0 ? "in " + fmt(left) : "opening / opened"; }); }
  setInterval(tick, 1000); document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("brute:listing", function (event) {
    var f = event.detail;
    if (!f || !f.symbol) return;
    document.querySelectorAll('[data-listing="' + f.symbol + '"] .listing-state').forEach(function (c) { c.textContent = f.state; });
    document.body.dispatchEvent(new Event("sniper-listing"));
  });
})();
