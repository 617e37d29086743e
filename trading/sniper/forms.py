"""The sniper's forms. Each checks its input in words before the model's constraints can (a constraint
name never reaches the user), and every rule the services hold is repeated here only as far as a
clear message needs it."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from config.fields import NormalizedDecimalField
from trading import quotes
from trading.models import RiskLimits, Symbol
from trading.sniper.models import Listing, PriceAlert, Rule

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
HUNDRED = Decimal(100)

# Every database constraint a form's model holds, in words (a form's own checks come first; this is
# the last word if one still fires, e.g. from a service's full_clean).
CONSTRAINT_WORDS = {
    "sniper_rule_amount_gt_0": ("amount", "The amount must be above 0."),
    "sniper_rule_symbol_or_any": ("symbol", "Choose a symbol, or any new listing (not both)."),
    "sniper_alert_value_gt_0": ("value", "The value must be above 0."),
    "sniper_position_qty_gte_0": (None, "A position cannot hold less than nothing."),
    "sniper_one_open_position": (None, "There is already an open position on this symbol."),
}
CONSTRAINT_MESSAGE = re.compile(r'^Constraint “?"?([\w]+)"?”? is violated\.?$')


def errors_in_words(form: forms.BaseForm, exc: ValidationError | str) -> None:
    """Add a service's ValidationError to `form`: on its field when the form has it, constraint names
    turned into words, and never a message the form already shows."""
    pairs: list[tuple[str | None, str]] = []
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            pairs += [(name, message) for e in errors for message in e.messages]
    elif isinstance(exc, ValidationError):
        pairs += [(None, message) for message in exc.messages]
    else:
        pairs.append((None, str(exc)))
    for field, message in pairs:
        if (match := CONSTRAINT_MESSAGE.match(message)) and match.group(1) in CONSTRAINT_WORDS:
            field, message = CONSTRAINT_WORDS[match.group(1)]
        target = field if field is not None and field in form.fields else None
        if message not in form.errors.get(target or "__all__", []):
            form.add_error(target, message)


class WordyModelForm(forms.ModelForm):
    """A ModelForm whose model-constraint failures read as words, once."""

    def _update_errors(self, errors: ValidationError) -> None:  # Django's model-validation hook
        if hasattr(errors, "error_dict"):
            cleaned = ValidationError(
                {f: [self._word(e) for e in errs] for f, errs in errors.error_dict.items()}
            )
        else:
            cleaned = ValidationError([self._word(e) for e in errors.error_list])
        super()._update_errors(cleaned)  # type: ignore[misc]

    @staticmethod
    def _word(error: ValidationError) -> ValidationError:
        for message in error.messages:
            if (match := CONSTRAINT_MESSAGE.match(message)) and match.group(1) in CONSTRAINT_WORDS:
                return ValidationError(CONSTRAINT_WORDS[match.group(1)][1])
        return error


def _positive(value: Decimal | None, what: str) -> Decimal | None:
    if value is not None and value <= 0:
        raise ValidationError(f"{what} must be above 0.")
    return value


def _percent(value: Decimal | None, what: str) -> Decimal | None:
    if value is not None and not 0 < value < HUNDRED:
        raise ValidationError(f"{what} is a percent between 0 and 100 (e.g. 10).")
    return value


def clean_symbol(raw: str, *, future_ok: bool) -> str:
    """A MEXC spot symbol we know, or (for a listing rule) one we expect to list."""
    symbol = raw.strip().upper()
    if not SYMBOL_RE.match(symbol):
        raise ValidationError("A symbol is letters and digits only, e.g. SOLUSDT.")
    if Symbol.objects.filter(symbol=symbol).exists():
        return symbol
    if future_ok:
        if Listing.objects.filter(symbol=symbol).exists():
            return symbol
        quotes_known = Symbol.objects.values_list("quote_asset", flat=True).distinct()
        if any(symbol.endswith(q) and len(symbol) > len(q) for q in quotes_known):
            return symbol
        raise ValidationError(
            f"{symbol} is not a MEXC spot symbol, and does not end in a quote asset (e.g. {symbol}USDT)."
        )
    raise ValidationError(f"{symbol} is not a MEXC spot symbol.")


class RuleForm(WordyModelForm):
    class Meta:
        model = Rule
        fields = [
            "name", "any_new_listing", "symbol", "trigger", "trigger_value", "window_minutes", "amount",
            "max_price", "max_price_order", "order_type", "cooldown_seconds", "enabled", "stop_loss_pct",
            "trailing_pct",
        ]  # fmt: skip
        help_texts = {
            "symbol": "e.g. SOLUSDT; a coin not listed yet is fine for “Listing opens”",
            "trigger_value": "A price (above/below), a percent (rise/drop) or a multiple of average volume",
            "max_price": "A hard cap: with it, the buy is always a limit order at this price (never a market "
            "order), so no fill is ever above it",
            "max_price_order": "With a max price: fill what is offered at or below it at once and cancel the "
            "rest (IOC), or leave the rest resting at the cap",
            "stop_loss_pct": "Sell what this rule bought (and has not sold) if the price falls this many "
            "percent below its entry; other rules' and manual buys are never sold",
            "trailing_pct": "Sell what this rule bought (and has not sold) if the price falls this many "
            "percent below its highest since the buy",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_price_order"].required = False

    def clean_max_price_order(self) -> str:
        # Only matters with a max price; an older form (or API client) that omits it gets IOC.
        return str(self.cleaned_data.get("max_price_order") or Rule.CapOrder.IOC)

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        _positive(amount, "The amount")
        return amount

    def clean_trigger_value(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("trigger_value"), "The trigger value")

    def clean_max_price(self) -> Decimal | None:
        return _positive(self.cleaned_data.get("max_price"), "The max price")

    def clean_stop_loss_pct(self) -> Decimal | None:
        return _percent(self.cleaned_data.get("stop_loss_pct"), "The stop-loss")

    def clean_trailing_pct(self) -> Decimal | None:
        return _percent(self.cleaned_data.get("trailing_pct"), "The trailing stop")

    def clean_window_minutes(self) -> int:
        minutes: int = self.cleaned_data["window_minutes"]
        if minutes < 1:
            raise ValidationError("The window is at least 1 minute.")
        return minutes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("any_new_listing"):
            data["symbol"] = ""
            return data
        raw = data.get("symbol") or ""
        if not raw.strip():
            self.add_error("symbol", "Choose a symbol, or any new listing.")
            return data
        listing = data.get("trigger") == Rule.Trigger.LISTING_OPENS
        try:
            data["symbol"] = symbol = clean_symbol(raw, future_ok=listing)
            if data.get("enabled"):  # a disabled rule never fires: it may be kept, whatever its symbol does
                _check_open_to_api_orders(symbol, listing=listing)
        except ValidationError as exc:
            self.add_error("symbol", exc)
        return data


def _check_open_to_api_orders(symbol: str, *, listing: bool) -> None:
    """An enabled rule buys through the API: on a price or volume trigger its symbol must be open to API
    orders now, and "Listing opens" waits for a symbol that is not open yet (one that is open never
    opens again)."""
    is_open = Symbol.objects.open_to_api_orders().filter(symbol=symbol).exists()
    if listing and is_open:
        raise ValidationError(
            f"{symbol} is already trading: “Listing opens” would never fire. Choose a price, percent or "
            "volume trigger for it."
        )
    if not listing and not is_open:
        raise ValidationError(
            f"{symbol} is not open to API orders on MEXC, so a rule cannot buy it. Choose another symbol, "
            "or “Listing opens” if it has not opened yet."
        )


def _percent_field(label: str) -> forms.DecimalField:
    """An optional percent, as exact as the rules store it (`pct_or_none`: 9 digits, 4 decimals)."""
    return NormalizedDecimalField(
        label=label,
        required=False,
        max_digits=9,
        decimal_places=4,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )


class TakeProfitLevelForm(forms.Form):
    """One rung of the take-profit ladder: sell `sell_pct` % of the position at `gain_pct` % above entry."""

    gain_pct = _percent_field("At + %")
    sell_pct = _percent_field("Sell %")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        gain, sell = data.get("gain_pct"), data.get("sell_pct")
        if gain is None and sell is None:
            return data
        if gain is None or gain <= 0:
            self.add_error("gain_pct", "The gain is a percent above 0, e.g. 5.")
        if sell is None or not 0 < sell <= HUNDRED:
            self.add_error("sell_pct", "Sell a share between 0 and 100 %.")
        return data


class BaseTakeProfitFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        total = sum(
            (f.cleaned_data["sell_pct"] for f in self.forms if f.cleaned_data.get("sell_pct")), Decimal(0)
        )
        if total > HUNDRED:
            raise ValidationError(
                f"The take-profit ladder sells {total.normalize():f} % in total: at most 100 %."
            )

    def levels(self) -> list[dict[str, str]]:
        """The filled rows as the rule stores them, lowest gain first."""
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data.get("gain_pct") is not None]
        return [
            {"gain_pct": f"{r['gain_pct'].normalize():f}", "sell_pct": f"{r['sell_pct'].normalize():f}"}
            for r in sorted(rows, key=lambda r: r["gain_pct"])
        ]


def take_profit_formset(data: Any = None, *, rule: Rule | None = None) -> BaseTakeProfitFormSet:
    """The ladder's rows: the rule's levels, then empty rows to add more (three in all at least)."""
    initial = [
        {"gain_pct": x["gain_pct"], "sell_pct": x["sell_pct"]} for x in (rule.take_profit if rule else [])
    ]
    formset = forms.formset_factory(
        TakeProfitLevelForm,
        formset=BaseTakeProfitFormSet,
        extra=max(3 - len(initial), 1),
        max_num=10,
        validate_max=True,
    )
    ladder: BaseTakeProfitFormSet = formset(data, initial=initial, prefix="tp")  # type: ignore[assignment]
    return ladder


class CloseForm(forms.Form):
    """How much of an open position to sell by hand: empty sells it all; a number must lie in the
    position, cut to the symbol's quantity step (what the exchange can sell), and the refusal says that
    range in the same step, whatever was typed (a negative, a number of 30 digits)."""

    quantity = NormalizedDecimalField(
        required=False,
        help_text="Empty: close all",
        error_messages={"invalid": "Enter the quantity as a number, or leave it empty to close all."},
    )

    def __init__(self, *args: Any, held: Decimal, symbol: Symbol | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held, self.symbol = held, symbol

    def clean_quantity(self) -> Decimal | None:
        qty: Decimal | None = self.cleaned_data.get("quantity")
        if qty is None:
            return None
        places = self.symbol.quantity_precision if self.symbol is not None else 8
        most = self.held.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")
        unit = f" {self.symbol.base_asset}" if self.symbol is not None else ""
        if most <= 0:
            raise ValidationError(
                f"This position holds less than one step ({Decimal(1).scaleb(-places):f}{unit}): "
                "leave the quantity empty to close it.",
                code="below_step",
            )
        if not 0 < qty <= most:
            raise ValidationError(
                f"Sell more than 0 and at most {most:f}{unit}, or leave the quantity empty to sell all.",
                code="out_of_range",
            )
        return qty


class RiskLimitsForm(WordyModelForm):
    class Meta:
        model = RiskLimits
        fields = ["max_order_value", "max_total_exposure", "max_open_positions", "daily_loss_limit"]
        help_texts = {
            "max_order_value": "In the quote asset (USDT); empty: no limit",
            "max_total_exposure": "The cost of all open positions together; empty: no limit",
            "max_open_positions": "Empty: no limit",
            "daily_loss_limit": "Realised loss since 00:00 UTC that stops new buys; empty: no limit",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_open_positions"].error_messages["min_value"] = (
            "The max open positions must be above 0 (leave it empty for no limit)."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        words = {
            "max_order_value": "The max order value",
            "max_total_exposure": "The max total exposure",
            "max_open_positions": "The max open positions",
            "daily_loss_limit": "The daily loss limit",
        }
        for field, what in words.items():
            value = data.get(field)
            if value is not None and value <= 0:
                self.add_error(field, f"{what} must be above 0 (leave it empty for no limit).")
        return data


class AlertForm(WordyModelForm):
    class Meta:
        model = PriceAlert
        fields = ["symbol", "kind", "value", "note"]
        help_texts = {"value": "A price, or a percent for a move"}

    def clean_symbol(self) -> str:
        return clean_symbol(self.cleaned_data.get("symbol") or "", future_ok=False)

    def clean_value(self) -> Decimal:
        value: Decimal = self.cleaned_data["value"]
        _positive(value, "The value")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        symbol, kind, value = data.get("symbol"), data.get("kind"), data.get("value")
        price = quotes.last_price(symbol) if symbol else None
        if price is None or value is None:
            return data
        shown = f"{price.normalize():f}"
        if kind == PriceAlert.Kind.ABOVE and price >= value:
            self.add_error(
                "value",
                f"{symbol} is already at {shown}, above {value.normalize():f}: it would fire at once. "
                "Choose a value above the price, or “Price below”.",
            )
        elif kind == PriceAlert.Kind.BELOW and price <= value:
            self.add_error(
                "value",
                f"{symbol} is already at {shown}, below {value.normalize():f}: it would fire at once. "
                "Choose a value below the price, or “Price above”.",
            )
        return data
