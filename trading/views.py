"""The terminal's HTML pages. Each view: one scoped fetch, one form, one service call, render or redirect.

With HTMX a view renders only the named partial the request asks for (`page.html#fragment`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import trader_required
from config.errors import BruteError
from config.health import health_report
from config.typing import AuthenticatedRequest
from trading import portfolio, quotes, selectors, services
from trading.forms import (
    ApiCredentialForm,
    MarketFilterForm,
    OrderFilterForm,
    OrderForm,
    PercentForm,
    TradingModeForm,
)
from trading.models import Interval, Symbol

PERCENTS = (25, 50, 75, 100)
MARKET_FRAGMENTS = {
    "book": "book",
    "trades": "trades",
    "order-form": "order_form",
    "balances": "balances",
    "open-orders": "open_orders",
}


def _page(
    request: AuthenticatedRequest, template: str, context: dict[str, object], fragments: dict[str, str]
) -> HttpResponse:
    """The full page, or for HTMX the named partial that the request's target (or ?fragment=) maps to."""
    target = request.GET.get("fragment") or request.headers.get("HX-Target", "")
    if request.htmx and target in fragments:
        return render(request, f"{template}#{fragments[target]}", context)
    return render(request, template, context)


def _safe_next(request: AuthenticatedRequest) -> str | None:
    """Where a form came from, when it is a path on this site (never an open redirect)."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return target if target and allowed else None


@login_required
@require_GET
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    """The overview; its value, P&L and feed state (`stats`) and the movers refresh themselves (HTMX)."""
    services.trading_account_get_or_create(user=request.user)
    feed = health_report()["checks"]["market_feed"]
    context = {
        "portfolio": portfolio.portfolio_for_user(user=request.user),
        "open_orders": selectors.orders_with_quote_asset(
            orders=selectors.open_orders_for_user(user=request.user)
        )[:10],
        "movers": quotes.top_movers(),
        "feed": {
            "status": feed["status"],
            "detail": feed.get("detail") or f"last tick {feed.get('age_s', '?')}s ago",
        },
    }
    return _page(request, "trading/dashboard.html", context, {"stats": "stats", "movers": "movers"})


@login_required
@require_GET
def markets(request: AuthenticatedRequest) -> HttpResponse:
    form = MarketFilterForm(request.GET or None)
    filters: dict[str, Any] = {"q": "", "quote": "", "sort": "volume", "favourites": False}
    if form.is_valid():
        filters = form.cleaned_data
    favourites = selectors.favourite_symbols(user=request.user)
    rows, total = quotes.market_rows(
        search=filters["q"],
        quote=filters["quote"],
        sort=filters["sort"] or "volume",
        favourites=favourites,
        favourites_only=filters["favourites"],
    )
    context = {
        "rows": rows,
        "total": total,
        "filters": filters,
        "quotes": quotes.quote_assets(),
        "sorts": MarketFilterForm.SORTS,
    }
    return _page(request, "trading/markets.html", context, {"market-table": "table"})


def _book_depth(request: AuthenticatedRequest) -> int:
    depth = request.GET.get("depth", "")  # compared as text: "²".isdigit(), and int("٣") is 3
    return next((d for d in quotes.BOOK_DEPTHS if str(d) == depth), quotes.BOOK_LEVELS)


def _market_context(
    request: AuthenticatedRequest, symbol_name: str, form: OrderForm | None, **extra: object
) -> dict[str, object]:
    symbol = selectors.symbol_get(symbol=symbol_name)
    # A new user's paper account (and its starting balance) is opened on first sight of a trading page.
    services.trading_account_get_or_create(user=request.user)
    interval = request.GET.get("interval", Interval.M1)
    balances = selectors.balances_by_asset(user=request.user)
    return {
        "symbol": symbol,
        "ticker": quotes.ticker_for(symbol.symbol),
        "ticker_unavailable": quotes.ticker_unavailable(symbol.symbol),
        "book": quotes.book_for(symbol.symbol, depth=_book_depth(request)),
        "book_depths": quotes.BOOK_DEPTHS,
        "trades": quotes.trades_for(symbol.symbol),
        "interval": interval if interval in Interval.values else Interval.M1,
        "intervals": [(i.value, i.label) for i in Interval],
        "form": form or OrderForm(symbol=symbol),
        "percents": PERCENTS,
        "available_quote": balances.get(symbol.quote_asset, Decimal(0)),
        "available_base": balances.get(symbol.base_asset, Decimal(0)),
        "open_orders": selectors.orders_with_quote_asset(
            orders=selectors.open_orders_for_user(user=request.user, symbol=symbol.symbol)
        ),
        "is_favourite": symbol.symbol in selectors.favourite_symbols(user=request.user),
        **extra,
    }


@login_required
@require_GET
def market(request: AuthenticatedRequest, symbol: str) -> HttpResponse:
    """The market page. Any other spelling of a listed symbol (/markets/solusdt/) redirects
    permanently to the canonical upper-case one, query string kept; an unknown symbol is 404."""
    canonical = selectors.symbol_get(symbol=symbol).symbol
    if symbol != canonical:
        url = reverse("trading:market", args=[canonical])
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)
    context = _market_context(request, symbol, None)
    return _page(request, "trading/market.html", context, MARKET_FRAGMENTS)


@login_required
@require_GET
def candles(request: AuthenticatedRequest, symbol: str) -> JsonResponse:
    interval = request.GET.get("interval", Interval.M1)
    if interval not in Interval.values:
        return JsonResponse(
            {"error": {"code": "validation_error", "message": f"Unknown interval {interval!r}"}}, status=400
        )
    rows = selectors.candles_for(symbol=selectors.symbol_get(symbol=symbol).symbol, interval=interval)
    return JsonResponse({"symbol": symbol, "interval": interval, "candles": rows})


@trader_required
@require_POST
def order_place(request: AuthenticatedRequest, symbol: str) -> HttpResponse:
    """Preview, confirm (live orders) and place; a percent button fills the amount from the balance.
    A refusal answers 400 with the form and its message, in place (HTMX) or as the whole page."""
    market = selectors.symbol_get(symbol=symbol)
    services.trading_account_get_or_create(user=request.user)
    data = request.POST.copy()
    if "percent" in data and (refused := _fill_percent(request, market, data)):
        # The form as it was sent, unchecked, and why the share was refused beside the percent buttons.
        form = OrderForm(initial=data.dict(), symbol=market)
        context = _market_context(request, market.symbol, form, percent_errors=refused)
        return _order_form_page(request, context, status=400)
    form = OrderForm(data, symbol=market)
    live = selectors.trading_mode_for_user(user=request.user) == "live"
    extra: dict[str, object] = {}
    if form.is_valid():
        args, action = form.order_arguments(), form.cleaned_data["action"] or "place"
        try:
            # "enter": the form's hidden default button, what Enter in a field submits: a preview.
            if action in ("preview", "enter") or (live and not form.cleaned_data["confirmed"]):
                # The preview refuses what placing would refuse (precision, minimums), never promises it.
                services.order_check(user=request.user, symbol=market.symbol, **args)
                balances = selectors.balances_by_asset(user=request.user)
                extra["preview"] = quotes.order_preview(symbol=market, available=balances, **args)
                extra["needs_confirmation"] = live and action == "place"
            else:
                order = services.order_place(user=request.user, symbol=market.symbol, source="manual", **args)
                if not request.htmx:
                    messages.success(
                        request, f"{order.side} {order.symbol}: {order.get_status_display().lower()}."
                    )
                    return redirect("trading:market", symbol=market.symbol)
                extra["placed"] = order
                form = OrderForm(initial={"side": args["side"], "type": args["type"]}, symbol=market)
        except BruteError as error:
            form.add_error(None, error.message)
    context = _market_context(request, market.symbol, form, **extra)
    return _order_form_page(request, context, status=400 if form.errors else 200)


def _fill_percent(request: AuthenticatedRequest, market: Symbol, data: QueryDict) -> list[str]:
    """A percent button's press: that share of the balance into `data` as the amount, to preview.
    The share's refusal in words when it is not a whole 1 to 100 (nothing filled then)."""
    share = PercentForm(data)
    if not share.is_valid():
        return [str(error) for error in share.errors["percent"]]
    if data.get("side") == "SELL":
        data["amount_in"] = "base"  # a share of the coin held, to the lot: 100 % leaves no sellable dust
    amount = quotes.amount_for_percent(
        symbol=market,
        balances=selectors.balances_by_asset(user=request.user),
        side=data.get("side", "BUY"),
        amount_in=data.get("amount_in", "quote"),
        percent=share.cleaned_data["percent"],
    )
    data["amount"], data["action"] = f"{amount:f}", "preview"
    return []


def _order_form_page(
    request: AuthenticatedRequest, context: dict[str, object], *, status: int
) -> HttpResponse:
    """The order form in place (HTMX), or the whole market page."""
    if request.htmx:
        return render(request, "trading/market.html#order_form", context, status=status)
    return render(request, "trading/market.html", context, status=status)


@trader_required
@require_POST
def favourite_toggle(request: AuthenticatedRequest, symbol: str) -> HttpResponse:
    services.favourite_toggle(user=request.user, symbol=selectors.symbol_get(symbol=symbol).symbol)
    return redirect("trading:market", symbol=symbol)


@login_required
@require_GET
def orders(request: AuthenticatedRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    history = selectors.orders_for_user(
        user=request.user,
        symbol=filters.get("symbol") or None,
        status=filters.get("status") or None,
        side=filters.get("side") or None,
    )
    history = selectors.orders_with_quote_asset(orders=history).prefetch_related("fills")
    page = Paginator(history, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "open_orders": selectors.orders_with_quote_asset(
            orders=selectors.open_orders_for_user(user=request.user)
        ),
        "filter_form": form if form.is_bound else OrderFilterForm(),
        "page": page,
        "query": query.urlencode(),
    }
    return _page(
        request, "trading/orders.html", context, {"order-history": "history", "open-orders": "open_orders"}
    )


@login_required
@require_GET
def order_detail(request: AuthenticatedRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    return render(request, "trading/order_detail.html", {"order": order, "fills": order.fills.all()})


@trader_required
@require_POST
def order_cancel(request: AuthenticatedRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    try:
        services.order_cancel(user=request.user, order_id=order.pk)
        messages.success(request, f"Canceled {order.side} {order.symbol}.")
    except BruteError as error:
        messages.error(request, error.message)
    return redirect(_safe_next(request) or "trading:orders")


@trader_required
@require_POST
def order_cancel_all(request: AuthenticatedRequest) -> HttpResponse:
    try:
        canceled = services.order_cancel_all(user=request.user)
        messages.success(request, f"Canceled {len(canceled)} order{'s' if len(canceled) != 1 else ''}.")
    except BruteError as error:
        messages.error(request, error.message)
    return redirect("trading:orders")


@login_required
@require_GET
def portfolio_page(request: AuthenticatedRequest) -> HttpResponse:
    services.trading_account_get_or_create(user=request.user)
    return render(
        request, "trading/portfolio.html", {"portfolio": portfolio.portfolio_for_user(user=request.user)}
    )


@login_required
@require_GET
def equity(request: AuthenticatedRequest) -> JsonResponse:
    return JsonResponse({"points": portfolio.equity_points(user=request.user)})


def _settings_context(request: AuthenticatedRequest, **forms: object) -> dict[str, object]:
    mode = selectors.trading_mode_for_user(user=request.user)
    return {
        "trading_mode": mode,
        "mode_form": forms.get("mode_form") or TradingModeForm(initial={"mode": mode}),
        "credential": selectors.api_credential_for_user(user=request.user),
        "credential_form": forms.get("credential_form") or ApiCredentialForm(),
        "simulated": settings.MEXC_SIMULATED,
        "paper_start": services.trading_account_get_or_create(user=request.user).paper_start_amount,
    }


@login_required
@require_GET
def settings_page(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "trading/settings.html", _settings_context(request))


@trader_required
@require_POST
def mode_set(request: AuthenticatedRequest) -> HttpResponse:
    form = TradingModeForm(request.POST)
    if form.is_valid():
        try:
            services.trading_mode_set(user=request.user, mode=form.cleaned_data["mode"])
            messages.success(request, f"You now trade {form.cleaned_data['mode'].upper()}.")
            return redirect("trading:settings")
        except BruteError as error:
            form.add_error("mode", error.message)
    return render(request, "trading/settings.html", _settings_context(request, mode_form=form), status=400)


@trader_required
@require_POST
def credential_save(request: AuthenticatedRequest) -> HttpResponse:
    form = ApiCredentialForm(request.POST)
    if form.is_valid():
        try:
            services.api_credential_save(
                user=request.user,
                api_key=form.cleaned_data["api_key"],
                api_secret=form.cleaned_data["api_secret"],
            )
            messages.success(request, "MEXC accepted your keys. They are stored encrypted.")
            return redirect("trading:settings")
        except BruteError as error:
            form.add_error(None, error.message)
    return render(
        request, "trading/settings.html", _settings_context(request, credential_form=form), status=400
    )


@trader_required
@require_POST
def credential_test(request: AuthenticatedRequest) -> HttpResponse:
    try:
        services.api_credential_test(user=request.user)
        messages.success(request, "MEXC accepted your keys.")
    except BruteError as error:
        messages.error(request, error.message)
    return redirect("trading:settings")


@trader_required
@require_POST
def credential_delete(request: AuthenticatedRequest) -> HttpResponse:
    services.api_credential_delete(user=request.user)
    messages.success(request, "Your MEXC keys are removed; you trade on paper.")
    return redirect("trading:settings")


@trader_required
@require_POST
def paper_reset(request: AuthenticatedRequest) -> HttpResponse:
    account = services.paper_account_reset(user=request.user)
    messages.success(request, f"Your paper account starts again with {account.paper_start_amount} USDT.")
    return redirect("trading:settings")
