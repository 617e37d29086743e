// Candlestick chart with volume for the market page (TradingView Lightweight Charts, vendored).
// The page gives: <div data-chart data-candles-url="/markets/BTCUSDT/candles" data-symbol="BTCUSDT"
// data-interval="1m">. Intervals switch without a reload; the forming candle arrives as a
// "brute:candle" DOM event from live.js.
(function () {
  "use strict";
  const root = document.querySelector("[data-chart]");
  if (!root || !window.LightweightCharts) return;
  const LWC = window.LightweightCharts;
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const canvas = root.querySelector("[data-chart-canvas]");
  const status = root.querySelector("[data-chart-status]");
  let interval = root.dataset.interval;

  const chart = LWC.createChart(canvas, {
    autoSize: true,
    layout: { background: { color: color("--bg") }, textColor: color("--fg"), fontFamily: "JetBrains Mono, monospace" },
    grid: { vertLines: { color: color("--panel") }, horzLines: { color: color("--panel") } },
    rightPriceScale: { borderColor: color("--line") },
    timeScale: { borderColor: color("--line"), timeVisible: true, secondsVisible: false },
    crosshair: { mode: LWC.CrosshairMode.Normal },
  });
  // The symbol's own price precision on the axis and the price tag: a coin at 0.000000011648 needs
  // 12 decimals (the default 2 shows "0.00" and no axis labels at all).
  const decimals = parseInt(root.dataset.decimals, 10);
  const priceFormat = Number.isNaN(decimals)
    ? undefined
    : { type: "price", precision: decimals, minMove: Number((10 ** -decimals).toFixed(decimals)) };
  const candles = chart.addSeries(LWC.CandlestickSeries, {
    upColor: color("--up"), downColor: color("--down"), borderVisible: false,
    wickUpColor: color("--up"), wickDownColor: color("--down"),
    ...(priceFormat ? { priceFormat } : {}),
  });
  if (priceFormat && window.bruteFormat) {
    // Grouped thousands on the axis and crosshair, as everywhere else on the page.
    chart.applyOptions({ localization: { priceFormatter: (p) => window.bruteFormat.price(p.toFixed(decimals), decimals) } });
  }
  window.bruteChart = { chart, candles };
  const volume = chart.addSeries(LWC.HistogramSeries, {
    priceScaleId: "", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false,
  });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  // Stored candles come as {time (s), open, high, low, close, volume}; live ones as {t (ms), o, h, l, c, v}.
  const bar = (c) => ({ time: c.time, open: +c.open, high: +c.high, low: +c.low, close: +c.close });
  const vol = (c) => ({ time: c.time, value: +c.volume, color: +c.close >= +c.open ? color("--up") : color("--down") });
  const fromLive = (c) => ({ time: Math.floor(c.t / 1000), open: c.o, high: c.h, low: c.l, close: c.c, volume: c.v });

  async function load() {
    status.textContent = "Loading " + interval + " candles…";
    try {
      const response = await fetch(root.dataset.candlesUrl + "?interval=" + encodeURIComponent(interval),
        { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      if (body.candles.length) {
        candles.setData(body.candles.map(bar));
        volume.setData(body.candles.map(vol));
        chart.timeScale().fitContent();
        status.textContent = "";
      } else {
        // No stored candles yet (a new listing): keep the live ones already drawn, ask again soon.
        status.textContent = "No candles yet: the feed is backfilling this market…";
        setTimeout(load, 2000);
      }
    } catch (error) {
      status.textContent = "Could not load candles (" + error.message + "). Retrying…";
      setTimeout(load, 3000);
    }
  }

  root.querySelectorAll("[data-interval-link]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      interval = link.dataset.intervalLink;
      root.querySelectorAll("[data-interval-link]").forEach((l) => l.removeAttribute("aria-current"));
      link.setAttribute("aria-current", "true");
      history.replaceState(null, "", link.href);
      candles.setData([]);  // the other interval's bars go at once; the live ones are for this interval
      volume.setData([]);
      load();
    });
  });

  document.addEventListener("brute:candle", (event) => {
    const live = event.detail;
    if (live.symbol !== root.dataset.symbol || live.interval !== interval) return;
    const c = fromLive(live);
    candles.update(bar(c));
    volume.update(vol(c));
  });

  load();
})();
