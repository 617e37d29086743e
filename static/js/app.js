// Brute's page behaviour, loaded on every page after htmx and before live.js. No inline script or
// handler anywhere (the Content-Security-Policy allows none): pages say what they want with data-
// attributes and this file does it.
//
//   htmx responses   a refused form (400/409/422) is swapped in place like a success, so its errors
//                    show beside it; any other failure becomes a toast instead of silence.
//   [data-confirm]   a form asks before it submits (plain and htmx forms alike).
//   [data-order-form] the order form: price field only for limit orders, the submit button in the
//                    side's colour and words.
//   window.bruteFormat  the one number format of the whole app, the same as the `money` template tags.
(function () {
  "use strict";

  // ---- numbers ------------------------------------------------------------------------------------

  // Decimal strings are formatted as strings, never through float, so 0.000000011648 keeps its digits.
  function group(integer) {
    return integer.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function toPlain(text) {
    // "1.2e-8" -> "0.000000012": the feed sends decimal strings, but a float may slip in.
    const value = String(text).trim();
    if (!/e/i.test(value)) return value;
    const number = Number(value);
    return Number.isFinite(number) ? number.toFixed(20).replace(/0+$/, "").replace(/\.$/, "") : value;
  }

  function fixed(text, decimals) {
    // Round half up to `decimals` places on the decimal string itself.
    let value = toPlain(text);
    if (!/^-?\d*(\.\d*)?$/.test(value) || value === "" || value === "-") return String(text);
    const negative = value.startsWith("-");
    if (negative) value = value.slice(1);
    let [whole, frac = ""] = value.split(".");
    whole = whole || "0";
    if (decimals < 0 || Number.isNaN(decimals)) decimals = frac.length;
    const digits = (whole + (frac + "0".repeat(decimals)).slice(0, decimals)).split("").map(Number);
    if (Number(frac.charAt(decimals) || 0) >= 5) {
      let i = digits.length - 1;
      while (i >= 0) {
        if (digits[i] === 9) {
          digits[i] = 0;
          i -= 1;
        } else {
          digits[i] += 1;
          break;
        }
      }
      if (i < 0) digits.unshift(1);
    }
    const all = digits.join("");
    const cut = all.length - decimals;
    const intPart = all.slice(0, cut).replace(/^0+(?=\d)/, "");
    const fracPart = all.slice(cut);
    const zero = /^[0.]*$/.test(intPart + fracPart);
    return (negative && !zero ? "-" : "") + group(intPart) + (decimals > 0 ? "." + fracPart : "");
  }

  // Cut toward zero to `decimals` places: what the user has, never more (`available`, `money`).
  function cut(text, decimals) {
    const value = toPlain(text);
    if (!/^-?\d*(\.\d*)?$/.test(value) || value === "" || value === "-") return String(text);
    const negative = value.startsWith("-");
    let [whole, frac = ""] = (negative ? value.slice(1) : value).split(".");
    whole = whole.replace(/^0+(?=\d)/, "") || "0";
    frac = (frac + "0".repeat(decimals)).slice(0, decimals);
    const zero = /^0*$/.test(whole + frac);
    return (negative && !zero ? "-" : "") + group(whole) + (decimals > 0 ? "." + frac : "");
  }

  // The `money` filter's rule (trading/templatetags/money.py): cut toward zero, two decimals from 1
  // up, four significant digits below 1 with at least two decimals (0.0063291 -> 0.006329).
  const MONEY_DIGITS = 4;
  function money(text) {
    const value = toPlain(text);
    if (!/^-?\d*(\.\d*)?$/.test(value) || value === "" || value === "-") return String(text);
    const [whole, frac = ""] = value.replace(/^-/, "").split(".");
    const first = frac.search(/[1-9]/);
    if (/[1-9]/.test(whole) || first < 0) return cut(value, 2);
    const shown = cut(value, Math.max(2, first + MONEY_DIGITS));
    const [head, tail] = shown.split(".");
    return head + "." + tail.replace(/0+$/, "").padEnd(2, "0");
  }

  // Exact decimal arithmetic on decimal strings (BigInt scaled by a power of ten), so a sum of
  // price x quantity matches the server's Decimal digit for digit before it is cut for display.
  function scaled(text) {
    const value = toPlain(text);
    if (!/^-?\d*(\.\d*)?$/.test(value) || !/\d/.test(value)) return null;
    const [whole, frac = ""] = value.replace(/^-/, "").split(".");
    const units = BigInt((whole || "0") + frac);
    return { units: value.startsWith("-") ? -units : units, scale: frac.length };
  }

  function plain(number) {
    const negative = number.units < 0n;
    const digits = (negative ? -number.units : number.units).toString().padStart(number.scale + 1, "0");
    const cutAt = digits.length - number.scale;
    const text = number.scale ? digits.slice(0, cutAt) + "." + digits.slice(cutAt) : digits;
    return (negative ? "-" : "") + text;
  }

  function times(a, b) {
    const x = scaled(a);
    const y = scaled(b);
    return x && y ? plain({ units: x.units * y.units, scale: x.scale + y.scale }) : "NaN";
  }

  function plus(a, b) {
    const x = scaled(a);
    const y = scaled(b);
    if (!x || !y) return "NaN";
    const scale = Math.max(x.scale, y.scale);
    const up = (n) => n.units * 10n ** BigInt(scale - n.scale);
    return plain({ units: up(x) + up(y), scale });
  }

  function compact(text) {
    const number = Number(toPlain(text));
    if (!Number.isFinite(number)) return String(text);
    const units = [
      [1e12, "T"],
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "K"],
    ];
    for (const [size, unit] of units) {
      if (Math.abs(number) >= size) return (number / size).toFixed(2) + unit;
    }
    return number.toFixed(2);
  }

  window.bruteFormat = {
    price: (text, decimals) => fixed(text, decimals),
    money: money,
    available: (text, decimals) => cut(text, decimals),
    times: times,
    plus: plus,
    compact: compact,
    // A number as shown on the page ("12,345.6") back to a plain decimal string.
    parse: (text) => String(text).replace(/,/g, "").trim(),
  };

  // ---- htmx ----------------------------------------------------------------------------------------

  function toast(text, isError) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = isError ? "toast down" : "toast";
    el.setAttribute("role", isError ? "alert" : "status");
    el.textContent = text;
    box.append(el);
    setTimeout(() => el.remove(), 6000);
  }
  window.bruteToast = toast;

  if (window.htmx) {
    // htmx swaps only 2xx by default: a form refused with 400 would show nothing at all.
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|409|422)", swap: true, error: false },
      { code: "...", swap: false, error: true },
    ];
  }

  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    const words = {
      403: "You are not allowed to do that.",
      404: "Not found: it may have been deleted.",
      429: "Too many requests: wait a moment and try again.",
    };
    toast(words[xhr.status] || "The server could not do that (HTTP " + xhr.status + "). Try again.", true);
  });
  document.addEventListener("htmx:sendError", () => toast("No connection to Brute: nothing was sent.", true));

  // ---- confirmations -------------------------------------------------------------------------------

  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      const question = form.dataset && form.dataset.confirm;
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true,
  );
  // (Capture on the document runs before htmx's own listener on the form, so a "no" stops both.)

  // ---- the order form ------------------------------------------------------------------------------

  function orderForm(root) {
    const form = root.matches && root.matches("[data-order-form]") ? root : root.querySelector("[data-order-form]");
    if (!form) return;
    const type = form.querySelector("[name=type]");
    const priceField = form.querySelector("[data-price-field]");
    const place = form.querySelector("[data-place]");
    function update() {
      const side = (form.querySelector("[name=side]:checked") || {}).value || "BUY";
      const limit = type && type.value === "LIMIT";
      if (priceField) priceField.hidden = !limit;
      if (place) {
        place.classList.toggle("button-sell", side === "SELL");
        place.classList.toggle("button-buy", side !== "SELL");
        place.textContent = (side === "SELL" ? "Sell " : "Buy ") + (form.dataset.base || "");
      }
    }
    form.addEventListener("change", update);
    update();
  }

  // Widths from data (the allocation bar): set through the CSSOM, as no style= attribute is allowed.
  function shares(root) {
    root.querySelectorAll("[data-share]").forEach((el) => {
      const share = parseFloat(el.dataset.share);
      if (!Number.isNaN(share)) el.style.width = share + "%";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    orderForm(document);
    shares(document);
  });
  document.addEventListener("htmx:afterSettle", (event) => orderForm(event.target));
})();
