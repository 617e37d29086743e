"""Price alerts: above, below, or a percent move from a reference price.

An alert fires once: a conditional UPDATE disarms it as it fires, so two monitors or two ticks never
send it twice. It stays triggered until re-armed by hand (`alert_rearm`); re-arming a percent-move
alert takes the current price as its new reference.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.notifications.services import notification_send
from config.errors import NotFound
from trading import formatting
from trading.models import Symbol
from trading.sniper.models import PriceAlert
from trading.sniper.prices import MarketView, priced
from trading.templatetags.money import amount

Kind = PriceAlert.Kind


def _reference(symbol: str) -> Decimal:
    quote = MarketView().load([symbol]).quote(symbol)
    if quote is None:
        raise ValidationError({"symbol": f"No price for {symbol} right now; try again"})
    return quote.price


def alert_create(*, user: User, symbol: str, kind: str, value: Decimal, note: str = "") -> PriceAlert:
    symbol = symbol.strip().upper()
    if not Symbol.objects.filter(symbol=symbol).exists():
        raise ValidationError({"symbol": f"{symbol} is not a MEXC spot symbol"})
    alert = PriceAlert(user=user, symbol=symbol, kind=kind, value=value, note=note)
    if kind == Kind.MOVE_PCT:
        alert.reference_price = _reference(symbol)
    alert.full_clean(exclude=["user"])
    alert.save()
    return alert


def alert_rearm(*, user: User, alert: PriceAlert) -> PriceAlert:
    if alert.user_id != user.pk:
        raise NotFound("No such alert.")
    alert.armed, alert.triggered_at, alert.triggered_price = True, None, None
    if alert.kind == Kind.MOVE_PCT:
        alert.reference_price = _reference(alert.symbol)
    alert.save()
    return alert


def alert_delete(*, user: User, alert: PriceAlert) -> None:
    if alert.user_id != user.pk:
        raise NotFound("No such alert.")
    alert.delete()


def crossed(alert: PriceAlert, price: Decimal) -> bool:
    if alert.kind == Kind.ABOVE:
        return price >= alert.value
    if alert.kind == Kind.BELOW:
        return price <= alert.value
    ref = alert.reference_price
    return bool(ref) and abs(price / ref - 1) * 100 >= alert.value  # type: ignore[operator]


def alerts_check(*, view: MarketView | None = None) -> int:
    """Fire every armed alert its symbol's price has crossed; returns how many fired."""
    alerts = list(PriceAlert.objects.filter(armed=True).select_related("user"))
    return sum(
        alert_fire(alert=alert, price=quote.price)
        for alert, quote in priced(alerts, view)
        if crossed(alert, quote.price)
    )


def alert_fire(*, alert: PriceAlert, price: Decimal) -> bool:
    with transaction.atomic():
        if not PriceAlert.objects.filter(pk=alert.pk, armed=True).update(
            armed=False, triggered_at=timezone.now(), triggered_price=price
        ):
            return False
        symbol = formatting.symbol_row(alert.symbol)
        if alert.kind == Kind.MOVE_PCT:
            what = f"{alert.get_kind_display().lower()} {amount(alert.value)}%"
            if alert.reference_price:
                what += f" from {formatting.price_text(alert.reference_price, symbol)}"
        else:
            what = f"{alert.get_kind_display().lower()} {formatting.price_text(alert.value, symbol)}"
        notification_send(
            user=alert.user,
            kind="price_alert",
            title=f"{alert.symbol} at {formatting.price_text(price, symbol)}",
            body=f"Alert {what} crossed. {alert.note}".strip(),
            data={"alert": alert.pk, "symbol": alert.symbol, "price": str(price)},
            level="warning",
        )
    return True
