"""HTML forms of the terminal. They check shape only; the services own the trading rules."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, TypedDict

from django import forms

from config.fields import NormalizedDecimalField
from trading import quotes
from trading.models import Mode, Order, Symbol


class _Positive(TypedDict):
    min_value: Decimal
    max_digits: int
    decimal_places: int


POSITIVE: _Positive = {"min_value": Decimal("0"), "max_digits": 36, "decimal_places": 18}
WHOLE_DIGITS = POSITIVE["max_digits"] - POSITIVE["decimal_places"]


class PlainDecimalField(NormalizedDecimalField):
    """A decimal written as digits with an optional point and sign, nothing else: Python's Decimal
    also reads "1e3" (1,000) or "Infinity", and an order form must not turn a typo into an order 40
    times the size meant. The API's amount rule (trading.schemas.AMOUNT_PATTERN) is as strict.

    A text input, not type=number: a browser empties a number field it cannot read ("0,5") before
    sending it, so the user would lose what they typed and get "Enter an amount" for it. Thousands
    commas as the pages show them, with a decimal point ("10,000.50", copied from a balance), are read;
    commas without a point are refused, since "1,500" is 1.5 to half of Europe and 1500 to the rest.
    Anything else gets its own words (`what` names the field in them) and is shown back as typed."""

    PLAIN = re.compile(r"^-?[0-9]*\.?[0-9]+$|^-?[0-9]+\.$")
    GROUPED = re.compile(r"^-?[1-9][0-9]{0,2}(,[0-9]{3})+\.[0-9]*$")
    AMBIGUOUS = re.compile(r"^-?[1-9][0-9]{0,2}(,[0-9]{3})+$")
    EXPONENT = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE]([-+]?[0-9]+)$")
    DECIMAL_COMMA = re.compile(r"^-?[0-9]*,[0-9]+$")

    def __init__(self, *, what: str, **kwargs: Any) -> None:
        self.what = what
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # the stubs type it as IntegerField.to_python
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if self.GROUPED.match(text):
                text = text.replace(",", "")
            self._refuse_unplain(text)
            value = text
        number: Decimal | None = super().to_python(value)
        if number is not None:
            self._refuse_too_long(number)
        return number

    def _refuse_unplain(self, text: str) -> None:
        if (written := self.EXPONENT.match(text)) is not None:
            # Spelled out only when short: "1e999999999" must not become a billion zeros.
            power = written.group(2).lstrip("+-")
            short = len(text) <= 24 and len(power) <= 2 and int(power) <= 12
            hint = f": type {Decimal(text):f}, not “{text}”." if short else "."
            raise forms.ValidationError(
                f"Write the {self.what} in full, without an exponent{hint}", code="exponent"
            )
        if self.AMBIGUOUS.match(text):
            plain, comma_decimal = text.replace(",", ""), text.replace(",", ".")
            words = (
                f"“{text}” reads two ways; write the {self.what} without a comma: {plain} or {comma_decimal}."
                if text.count(",") == 1
                else f"Write the {self.what} without thousands commas, or with its decimal point: {plain}."
            )
            raise forms.ValidationError(words, code="ambiguous_comma")
        if self.DECIMAL_COMMA.match(text):
            example = f": {text.replace(',', '.')}, not {text}" if len(text) <= 24 else ", not a comma"
            raise forms.ValidationError(f"Use a point for decimals{example}.", code="decimal_comma")
        if not self.PLAIN.match(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")

    def _refuse_too_long(self, number: Decimal) -> None:
        digits, exponent = number.as_tuple().digits, number.as_tuple().exponent
        assert isinstance(exponent, int)  # finite: super() refuses NaN and infinities
        places, whole = max(0, -exponent), max(0, len(digits) + exponent)
        if whole > WHOLE_DIGITS:
            raise forms.ValidationError(
                f"That {self.what} is too large: at most {WHOLE_DIGITS} digits before the decimal point.",
                code="too_large",
            )
        if places > (most := POSITIVE["decimal_places"]):
            raise forms.ValidationError(
                f"The {self.what} has too many decimals: at most {most} after the point.",
                code="too_many_decimals",
            )


AMOUNT_ERRORS = {
    "required": "Enter an amount.",
    "invalid": "Enter the amount as a number, e.g. 25 or 0.5.",
    "min_value": "Enter an amount above zero.",
}


class PercentForm(forms.Form):
    """A percent button's press: a whole share of the available balance, 1 to 100, in ASCII digits
    ("²" and "٣" are digits to Python's isdigit() and int(), not to a share of money)."""

    percent = forms.CharField(strip=True, error_messages={"required": "Pick a share: 25, 50, 75 or 100 %."})

    def clean_percent(self) -> int:
        text: str = self.cleaned_data["percent"]
        shown = text if len(text) <= 12 else f"{text[:12]}…"
        if not (text.isascii() and text.isdecimal()):
            raise forms.ValidationError(
                f"A share of the balance is a whole number of percent, 1 to 100, not “{shown}”.",
                code="invalid",
            )
        if len(text) > 3 or not 1 <= int(text) <= 100:
            raise forms.ValidationError(
                f"{shown} % is not a share of the balance: pick 1 to 100 %.", code="out_of_range"
            )
        return int(text)


class OrderForm(forms.Form):
    """The market page's order form. An amount in the quote asset is spent as given by a market buy
    (MEXC quoteOrderQty); for a limit order or a market sell it becomes the base quantity it buys or
    sells at the limit price or the best bid, rounded down to the lot."""

    side = forms.ChoiceField(
        choices=Order.Side.choices,
        widget=forms.RadioSelect,
        initial=Order.Side.BUY,
        error_messages={"required": "Choose Buy or Sell.", "invalid_choice": "Choose Buy or Sell."},
    )
    type = forms.ChoiceField(
        choices=[(Order.Type.MARKET, "Market"), (Order.Type.LIMIT, "Limit")],
        initial=Order.Type.MARKET,
        error_messages={"required": "Choose Market or Limit.", "invalid_choice": "Choose Market or Limit."},
    )
    amount_in = forms.ChoiceField(
        label="Amount in",
        choices=[("quote", "Quote (e.g. USDT)"), ("base", "Base (the coin)")],
        initial="quote",
    )
    amount = PlainDecimalField(what="amount", label="Amount", error_messages=AMOUNT_ERRORS, **POSITIVE)
    price = PlainDecimalField(
        what="limit price",
        label="Limit price",
        required=False,
        error_messages={
            "invalid": "Enter the limit price as a number.",
            "min_value": "A limit order needs a price above zero.",
        },
        **POSITIVE,
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # The button pressed: "enter" is the form's hidden default button, what Enter in a field submits.
    action = forms.ChoiceField(
        required=False,
        choices=[("place", "Place"), ("preview", "Preview"), ("enter", "Preview")],
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "Press Preview or Place order."},
    )

    def __init__(self, *args: Any, symbol: Symbol | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.symbol = symbol
        self.quantity: Decimal | None = None
        if symbol is not None:
            amount_in: Any = self.fields["amount_in"]
            amount_in.choices = [("quote", symbol.quote_asset), ("base", symbol.base_asset)]
            amount_in.error_messages["invalid_choice"] = (
                f"Give the amount in {symbol.quote_asset} or {symbol.base_asset}."
            )
            self.fields["price"].label = f"Limit price ({symbol.quote_asset})"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount = data.get("amount")
        if amount is not None and amount <= 0:
            self.add_error("amount", "Enter an amount above zero.")
        price = data.get("price")
        if (
            data.get("type") == Order.Type.LIMIT
            and "price" not in self.errors
            and (price is None or price <= 0)
        ):
            self.add_error("price", "A limit order needs a price above zero.")
        if self.errors or self.symbol is None:
            return data
        by_quote = data.get("amount_in") == "quote"
        if by_quote and (data.get("type") == Order.Type.LIMIT or data.get("side") == Order.Side.SELL):
            self._quote_to_quantity(data)
        return data

    def _quote_to_quantity(self, data: dict[str, Any]) -> None:
        symbol = self.symbol
        assert symbol is not None
        price = data.get("price") if data.get("type") == Order.Type.LIMIT else None
        quantity = quotes.quantity_for_quote(
            symbol=symbol, side=data["side"], quote=data["amount"], price=price
        )
        if price is None and quotes.best_price(symbol.symbol, "SELL") is None:
            self.add_error(
                "amount_in", f"No price yet to size a sell in {symbol.quote_asset}: give {symbol.base_asset}."
            )
        elif quantity <= 0:
            self.add_error(
                "amount",
                f"{data['amount']} {symbol.quote_asset} is less than one lot ({symbol.quantity_step:f} "
                f"{symbol.base_asset}).",
            )
        else:
            self.quantity = quantity

    def order_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        by_quote = data["amount_in"] == "quote" and self.quantity is None
        return {
            "side": data["side"],
            "type": data["type"],
            "quantity": None if by_quote else (self.quantity or data["amount"]),
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
