from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trading.models import ApiCredential, Balance, Candle, Fill, Order, Symbol, SymbolEvent, TradingAccount


@admin.register(Symbol)
class SymbolAdmin(admin.ModelAdmin):
    list_display = ("symbol", "status", "api_tradable", "spot_allowed", "min_notional", "updated")
    list_filter = ("status", "api_tradable", "quote_asset")
    search_fields = ("symbol", "base_asset")


@admin.register(SymbolEvent)
class SymbolEventAdmin(admin.ModelAdmin):
    list_display = ("at", "symbol", "kind", "old", "new")
    list_filter = ("kind",)
    search_fields = ("symbol",)


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ("symbol", "interval", "open_time", "close")
    list_filter = ("interval",)
    search_fields = ("symbol",)


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "mode", "paper_starting_balance", "paper_reset_at")


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    # The encrypted columns are never shown, not even in ciphertext.
    list_display = ("user", "key_hint", "verified_at")
    fields = ("user", "key_hint", "verified_at", "can_trade")
    readonly_fields = ("user", "key_hint", "verified_at", "can_trade")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    readonly_fields = (
        "trade_id",
        "price",
        "qty",
        "quote_qty",
        "commission",
        "commission_asset",
        "is_maker",
        "time",
    )


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("created", "user", "mode", "symbol", "side", "type", "status", "executed_qty", "source")
    list_filter = ("mode", "status", "side", "type", "source")
    search_fields = ("symbol", "client_order_id", "exchange_order_id")
    inlines = (FillInline,)


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ("user", "mode", "asset", "free", "locked")
    list_filter = ("mode",)
