from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms

from config.input_limits import InputRefused, json_loads_bounded
from trading.sniper.models import PriceAlert, RiskLimits, Rule

TP_HELP = 'JSON, e.g. <code>[{"gain_pct": 5, "sell_pct": 50}, {"gain_pct": 10, "sell_pct": 30}]</code>'


class RuleForm(forms.ModelForm):
    take_profit = forms.CharField(required=False, help_text=TP_HELP, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Rule
        fields = [
            "name", "any_new_listing", "symbol", "trigger", "trigger_value", "window_minutes", "amount",
            "max_price", "max_price_order", "order_type", "cooldown_seconds", "enabled", "stop_loss_pct",
            "trailing_pct",
        ]  # fmt: skip
        help_texts = {
            "trigger_value": "A price (above/below), a percent (rise/drop) or a multiple of average volume",
            "max_price": "A hard cap: with it, the buy is always a limit order at this price (never a market "
            "order), so no fill is ever above it",
            "max_price_order": "With a max price: fill what is offered at or below it at once and cancel the "
            "rest (IOC), or leave the rest resting at the cap",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_price_order"].required = False
        if self.instance.pk and not self.is_bound:
            self.initial["take_profit"] = (
                json.dumps(self.instance.take_profit) if self.instance.take_profit else ""
            )

    def clean_take_profit(self) -> list[Any]:
        raw = self.cleaned_data.get("take_profit") or ""
        if not raw.strip():
            return []
        try:
            value = json_loads_bounded(raw, max_bytes=16_384, max_depth=3)
        except InputRefused as exc:
            raise forms.ValidationError(exc.message) from None
        if not isinstance(value, list):
            raise forms.ValidationError("A list of levels, e.g. [{...}, {...}]")
        return value

    def clean_max_price_order(self) -> str:
        # Only matters with a max price; an older form (or API client) that omits it gets IOC.
        return str(self.cleaned_data.get("max_price_order") or Rule.CapOrder.IOC)

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("The amount must be above 0")
        return amount


class CloseForm(forms.Form):
    quantity = forms.DecimalField(
        required=False, min_value=Decimal("0"), max_digits=36, decimal_places=18, help_text="Empty: close all"
    )


class RiskLimitsForm(forms.ModelForm):
    class Meta:
        model = RiskLimits
        fields = ["max_order_value", "max_total_exposure", "max_open_positions", "daily_loss_limit"]


class AlertForm(forms.ModelForm):
    class Meta:
        model = PriceAlert
        fields = ["symbol", "kind", "value", "note"]
        help_texts = {"value": "A price, or a percent for a move"}
