"""HTML forms of the terminal. They check shape only; the services own the trading rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from trading.models import Mode, Order

POSITIVE = {"min_value": Decimal("0"), "max_digits": 36, "decimal_places": 18}


class OrderForm(forms.Form):
    side = forms.ChoiceField(choices=Order.Side.choices, widget=forms.RadioSelect, initial=Order.Side.BUY)
    type = forms.ChoiceField(
        choices=[(Order.Type.MARKET, "Market"), (Order.Type.LIMIT, "Limit")], initial=Order.Type.MARKET
    )
    amount_in = forms.ChoiceField(
        label="Amount in",
        choices=[("quote", "Quote (e.g. USDT)"), ("base", "Base (the coin)")],
        initial="quote",
    )
    amount = forms.DecimalField(label="Amount", **POSITIVE)  # type: ignore[arg-type]
    price = forms.DecimalField(label="Limit price", required=False, **POSITIVE)  # type: ignore[arg-type]
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount = data.get("amount")
        if amount is not None and amount <= 0:
            self.add_error("amount", "Enter an amount above zero.")
        if data.get("type") == Order.Type.LIMIT:
            price = data.get("price")
            if price is None or price <= 0:
                self.add_error("price", "A limit order needs a price above zero.")
            if data.get("amount_in") == "quote":
                self.add_error("amount_in", "Give a limit order's amount in the base coin.")
        elif data.get("amount_in") == "quote" and data.get("side") == Order.Side.SELL:
            self.add_error("amount_in", "Sell by the base coin's quantity.")
        return data

    def order_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        by_quote = data["amount_in"] == "quote"
        return {
            "side": data["side"],
            "type": data["type"],
            "quantity": None if by_quote else data["amount"],
            "quote_quantity": data["amount"] if by_quote else None,
            "price": data.get("price") if data["type"] == Order.Type.LIMIT else None,
        }


class OrderFilterForm(forms.Form):
    symbol = forms.CharField(required=False, max_length=40)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Order.Status.choices])
    side = forms.ChoiceField(required=False, choices=[("", "Any side"), *Order.Side.choices])

    def clean_symbol(self) -> str:
        return str(self.cleaned_data.get("symbol") or "").strip().upper()


class MarketFilterForm(forms.Form):
    SORTS = [("volume", "Volume"), ("change", "24h change"), ("symbol", "Symbol"), ("price", "Price")]
    q = forms.CharField(required=False, max_length=40, label="Search")
    quote = forms.CharField(required=False, max_length=20, label="Quote asset")
    sort = forms.ChoiceField(required=False, choices=SORTS)
    favourites = forms.BooleanField(required=False, label="Favourites only")


class TradingModeForm(forms.Form):
    mode = forms.ChoiceField(choices=Mode.choices, widget=forms.RadioSelect)


class ApiCredentialForm(forms.Form):
    api_key = forms.CharField(
        label="API key", max_length=64, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    api_secret = forms.CharField(
        label="API secret", max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )
