// Brute live updates: one WebSocket per page (/ws/live/), plain JS, no dependencies.
//
// The page says what it wants on <body>:
//   data-live-url="/ws/live/"  data-live-groups="markets market.BTCUSDT"
//   data-live-port="8001"   (optional) the WebSocket process's own port on this host, when no proxy
//                           routes /ws/ to it (`make run`)
// and marks what to update in place:
//   [data-price="SYM"] [data-change="SYM"] [data-volume="SYM"]   ticker fields (flash on change)
//   [data-book="SYM"] with tbody[data-book-asks] / tbody[data-book-bids]   the order book ladder
//   [data-trades="SYM"]   recent trades (a <tbody>, or an empty-state element that becomes a table)
//   [data-live-state]     "live" / "reconnecting…" (attribute data-state="live|reconnecting")
//   #toasts               private events (orders, fills, balances, notifications)
// Forming candles are re-dispatched as a "brute:candle" DOM event (detail = the candle message) for
// the chart; every message is also dispatched as "brute:<type>" for page scripts.
// Page scripts never open a socket of their own (one page, one socket, the one that reconnects): they
// listen for "brute:<type>" on document (countdown.js: "brute:listing").
// Message formats: see trading/consumers.py. window.bruteLive.subscribe([...]) / .unsubscribe([...])
// change groups without reconnecting.
(function () {
  "use strict";
  const body = document.body;
  if (!body || !body.dataset.liveUrl || !("WebSocket" in window)) return;

  const STALE_AFTER_MS = 15000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const TRADE_ROWS = 50;
  const TOAST_MS = 6000;

  const groups = new Set((body.dataset.liveGroups || "").split(/\s+/).filter(Boolean));
  const lastSeen = new Map(); // symbol -> ms of its last price update
  let socket = null;
  let attempt = 0;
  let retryTimer = null;

  // ---- connection ---------------------------------------------------------------------------------

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = groups.size ? "?groups=" + encodeURIComponent(Array.from(groups).join(",")) : "";
    const host = body.dataset.livePort ? location.hostname + ":" + body.dataset.livePort : location.host;
    return scheme + "//" + host + body.dataset.liveUrl + query;
  }

  function setState(state, text) {
    document.querySelectorAll("[data-live-state]").forEach((el) => {
      el.dataset.state = state;
      el.textContent = text;
    });
  }

  function connect() {
    retryTimer = null;
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      attempt = 0;
      setState("live", "live");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handle(message);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      // 4401: the session ended; reconnecting would only be refused again.
      if (event.code === 4401 || event.code === 1008) {
        setState("offline", "signed out");
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (retryTimer) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    setState("reconnecting", "reconnecting…");
    retryTimer = setTimeout(connect, delay);
  }

  function send(payload) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
  }

  // ---- dispatch -------------------------------------------------------------------------------------

  const handlers = {
    batch: (m) => m.messages.forEach(handle),
    tickers: (m) => Object.entries(m.data).forEach(([symbol, row]) => ticker(symbol, row)),
    ticker: (m) => ticker(m.symbol, m),
    book: book,
    trades: trades,
    candle: (m) => document.dispatchEvent(new CustomEvent("brute:candle", { detail: m })),
    subscribed: (m) => {
      if (m.refused && m.refused.length) console.warn("live: not allowed to join", m.refused);
    },
    "order.changed": (m) => {
      orderRows(m.order);
      orderToast(m.order);
    },
    notification: (m) => {
      // An order's fill already has its toast; the inbox keeps the notification.
      if (m.kind === "order_filled") return;
      toast(m.title || m.text || m.message || "Notification", m.level === "error");
    },
  };

  function handle(message) {
    if (!message || typeof message.type !== "string") return;
    const handler = handlers[message.type];
    if (handler) handler(message);
    document.dispatchEvent(new CustomEvent("brute:" + message.type, { detail: message }));
  }

  // ---- tickers --------------------------------------------------------------------------------------

  function each(attribute, symbol, fn) {
    document.querySelectorAll("[" + attribute + '="' + CSS.escape(symbol) + '"]').forEach(fn);
  }

  const fmt = window.bruteFormat;

  // Prices inside an element with data-decimals="N" (the symbol's price precision) keep N decimals;
  // quantities inside data-qty-decimals="N" keep the lot's N. One format for the whole app (app.js).
  function decimalsOf(el, attribute) {
    const holder = el && el.closest("[" + attribute + "]");
    return holder ? parseInt(holder.getAttribute(attribute), 10) : NaN;
  }

  function price(text, el) {
    const decimals = decimalsOf(el, "data-decimals");
    return fmt && !Number.isNaN(decimals) ? fmt.price(text, decimals) : text;
  }

  function qty(text, el) {
    const decimals = decimalsOf(el, "data-qty-decimals");
    return fmt && !Number.isNaN(decimals) ? fmt.price(text, decimals) : text;
  }

  function ticker(symbol, row) {
    if (row.state === "unavailable") {
      // The exchange no longer lists the symbol: no price at all rather than its last one, frozen.
      lastSeen.set(symbol, 0);
      each("data-price", symbol, (el) => {
        el.textContent = "—";
        el.classList.add("stale");
        el.title = "No live price: the exchange no longer lists " + symbol;
      });
      each("data-change", symbol, (el) => (el.textContent = ""));
      each("data-volume", symbol, (el) => (el.textContent = ""));
      return;
    }
    if (row.price != null) {
      lastSeen.set(symbol, Date.now());
      each("data-price", symbol, (el) => {
        const before = parseFloat(fmt ? fmt.parse(el.textContent) : el.textContent);
        const after = parseFloat(row.price);
        el.classList.remove("stale");
        el.removeAttribute("title");
        const shown = price(row.price, el);
        if (el.textContent === shown) return;
        el.textContent = shown;
        if (!Number.isNaN(before) && before !== after) flash(el, after > before ? "flash-up" : "flash-down");
      });
    }
    if (row.change != null) {
      each("data-change", symbol, (el) => {
        el.textContent = row.change + "%";
        const down = row.change.startsWith("-");
        el.classList.toggle("down", down);
        el.classList.toggle("up", !down);
      });
    }
    if (row.quote_volume != null) {
      each("data-volume", symbol, (el) => (el.textContent = fmt ? fmt.compact(row.quote_volume) : row.quote_volume));
    }
  }

  function flash(el, cls) {
    el.classList.remove("flash-up", "flash-down");
    void el.offsetWidth; // restart the animation when the same direction repeats
    el.classList.add(cls);
    setTimeout(() => el.classList.remove(cls), 600);
  }

  setInterval(() => {
    const now = Date.now();
    document.querySelectorAll("[data-price]").forEach((el) => {
      const seen = lastSeen.get(el.dataset.price);
      const connected = socket && socket.readyState === WebSocket.OPEN;
      el.classList.toggle("stale", !connected || (seen !== undefined && now - seen > STALE_AFTER_MS));
    });
  }, 1000);

  // ---- order book and trades ------------------------------------------------------------------------

  function cell(text, cls) {
    const td = document.createElement("td");
    td.className = cls ? "num " + cls : "num";
    td.textContent = text;
    return td;
  }

  function ladderRows(levels, side, maxTotal, container) {
    // Summed exactly on the decimal strings, as the server does, so the cut figure is the same.
    let total = "0";
    return levels.map(([level, amount]) => {
      total = fmt ? fmt.plus(total, fmt.times(level, amount)) : String(parseFloat(total) + parseFloat(level) * parseFloat(amount));
      const tr = document.createElement("tr");
      tr.className = side;
      const colour = side === "ask" ? "down" : "up";
      tr.append(cell(price(level, container), colour), cell(qty(amount, container)), cell(fmt ? fmt.money(total) : parseFloat(total).toFixed(2)));
      const bar = document.createElement("meter");
      bar.className = "depth " + colour;
      bar.min = 0;
      bar.max = 100;
      bar.value = maxTotal ? (100 * parseFloat(total)) / maxTotal : 0;
      const td = document.createElement("td");
      td.append(bar);
      tr.append(td);
      return tr;
    });
  }

  function sideTotal(levels) {
    return levels.reduce((sum, [p, q]) => sum + parseFloat(p) * parseFloat(q), 0);
  }

  function ensureBookTable(container) {
    let table = container.querySelector("table.book");
    if (table) return table;
    container.replaceChildren();
    table = document.createElement("table");
    table.className = "book";
    const head = document.createElement("thead");
    head.innerHTML = '<tr><th class="num">Price</th><th class="num">Amount</th><th class="num">Total</th><th>Depth</th></tr>';
    const asks = document.createElement("tbody");
    asks.dataset.bookAsks = "";
    const spread = document.createElement("tbody");
    spread.innerHTML = '<tr class="spread"><td colspan="4"></td></tr>';
    const bids = document.createElement("tbody");
    bids.dataset.bookBids = "";
    table.append(head, asks, spread, bids);
    container.append(table);
    return table;
  }

  function book(m) {
    each("data-book", m.symbol, (container) => {
      const table = ensureBookTable(container);
      // The page's chosen depth (data-depth levels a side).
      const depth = parseInt(container.dataset.depth, 10) || m.asks.length;
      const askLevels = m.asks.slice(0, depth);
      const bidLevels = m.bids.slice(0, depth);
      const maxTotal = Math.max(sideTotal(askLevels), sideTotal(bidLevels));
      // Asks are shown worst first so the best ask sits on the spread line, above the best bid.
      const asks = ladderRows(askLevels, "ask", maxTotal, container).reverse();
      table.querySelector("[data-book-asks]").replaceChildren(...asks);
      table.querySelector("[data-book-bids]").replaceChildren(...ladderRows(bidLevels, "bid", maxTotal, container));
      const spread = table.querySelector(".spread td");
      if (spread && m.asks.length && m.bids.length) {
        const gap = parseFloat(m.asks[0][0]) - parseFloat(m.bids[0][0]);
        spread.textContent = "spread " + price(String(gap), container);
      }
    });
  }

  function ensureTradesBody(el) {
    if (el.tagName === "TBODY") return el;
    const table = document.createElement("table");
    table.innerHTML = '<thead><tr><th class="num">Price</th><th class="num">Amount</th><th>Time</th></tr></thead>';
    const tbody = document.createElement("tbody");
    tbody.dataset.trades = el.dataset.trades;
    table.append(tbody);
    el.replaceWith(table);
    return tbody;
  }

  function trades(m) {
    each("data-trades", m.symbol, (el) => {
      const tbody = ensureTradesBody(el);
      const rows = m.trades.map((t) => {
        const tr = document.createElement("tr");
        const time = document.createElement("td");
        time.textContent = new Date(t.t).toLocaleTimeString([], { hour12: false });
        tr.append(cell(price(t.p, tbody), t.s === "BUY" ? "up" : "down"), cell(qty(t.q, tbody)), time);
        return tr;
      });
      tbody.prepend(...rows.reverse());
      while (tbody.rows.length > TRADE_ROWS) tbody.deleteRow(-1);
    });
  }

  // ---- private events -------------------------------------------------------------------------------

  // One toast per order and state: an order's PENDING -> NEW -> FILLED, its fill, the balance and the
  // inbox notification would otherwise make four toasts for one click.
  const shown = new Map(); // order id -> the last status toasted
  const QUIET = new Set(["PENDING"]);

  function trim(text) {
    const value = String(text);
    return value.includes(".") ? value.replace(/0+$/, "").replace(/\.$/, "") : value;
  }

  // Every row of this order on the page (open orders, history) shows its new status and fill at once;
  // the open-orders lists also re-fetch themselves (hx-trigger brute:order.changed).
  function orderRows(order) {
    if (!order || order.id == null) return;
    document.querySelectorAll('tr[data-order="' + CSS.escape(String(order.id)) + '"]').forEach((row) => {
      const tag = row.querySelector("[data-order-status] .tag");
      if (tag && order.status) {
        const label = order.status.replace(/_/g, " ").toLowerCase();
        tag.textContent = label.charAt(0).toUpperCase() + label.slice(1);
      }
      const filled = row.querySelector("[data-order-filled]");
      if (filled && order.executed_quantity != null) filled.textContent = qty(trim(order.executed_quantity), filled);
    });
  }

  function orderToast(order) {
    if (!order || QUIET.has(order.status) || shown.get(order.id) === order.status) return;
    if (order.type === "MARKET" && order.status === "NEW") return; // its fill follows at once
    shown.set(order.id, order.status);
    const what = [order.side, order.symbol].filter(Boolean).join(" ");
    const status = (order.status || "updated").replace(/_/g, " ").toLowerCase();
    let text = what + ": " + status;
    const decimals = decimalsOf(document.querySelector('[data-book="' + CSS.escape(order.symbol) + '"]'), "data-decimals");
    if (order.executed_quantity && Number(order.executed_quantity) > 0 && order.average_price) {
      const at = fmt && !Number.isNaN(decimals) ? fmt.price(order.average_price, decimals) : order.average_price;
      text += " " + trim(order.executed_quantity) + " @ " + at;
    }
    if (order.error) text += " (" + order.error + ")";
    toast(text, order.status === "REJECTED");
  }

  function toast(text, isError) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = isError ? "toast down" : "toast";
    el.setAttribute("role", "status");
    el.textContent = text;
    box.append(el);
    setTimeout(() => el.remove(), TOAST_MS);
  }

  // ---- public face ----------------------------------------------------------------------------------

  window.bruteLive = {
    subscribe(names) {
      names.forEach((g) => groups.add(g));
      send({ subscribe: names });
    },
    unsubscribe(names) {
      names.forEach((g) => groups.delete(g));
      send({ unsubscribe: names });
    },
  };

  document.addEventListener("visibilitychange", () => {
    // A tab woken from sleep may hold a dead socket the browser has not noticed yet.
    if (document.visibilityState === "visible" && !socket && retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = null;
      connect();
    }
  });

  setState("connecting", "connecting…");
  connect();
})();
