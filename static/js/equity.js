// The portfolio's value over time, from PortfolioSnapshot rows (GET data-equity-url -> {points: [{t, v}]}).
(function () {
  "use strict";
  const root = document.querySelector("[data-equity]");
  if (!root || !window.LightweightCharts) return;
  const status = document.querySelector("[data-equity-status]");
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const chart = LightweightCharts.createChart(root, {
    autoSize: true,
    layout: { background: { color: color("--bg") }, textColor: color("--fg"), fontFamily: "JetBrains Mono, monospace" },
    grid: { vertLines: { visible: false }, horzLines: { color: color("--panel") } },
    timeScale: { timeVisible: true, borderColor: color("--line") },
    rightPriceScale: { borderColor: color("--line") },
  });
  const line = chart.addSeries(LightweightCharts.AreaSeries, {
    lineColor: color("--accent"), topColor: color("--accent"), bottomColor: "transparent", lineWidth: 3,
  });
  let fitted = false;
  function load() {
    fetch(root.dataset.equityUrl, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((body) => {
        line.setData(body.points.map((p) => ({ time: p.t, value: +p.v })));
        if (!fitted) chart.timeScale().fitContent();
        fitted = true;
        status.textContent = body.points.length < 2 ? "Not enough history yet: Brute records your value every few minutes." : "";
      })
      .catch((error) => { status.textContent = "Could not load the value history (" + error.message + ")."; });
  }
  // The last point is the value now: reload it so the curve follows the market between snapshots.
  load();
  setInterval(load, 30000);
})();
