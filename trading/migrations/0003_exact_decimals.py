"""Money and quantity columns become exact (config/fields.py): existing values are rewritten as sortable
text first, so the rebuilt tables' CHECK constraints, which compare that text, hold for every row."""

import config.fields
from decimal import Decimal
from django.db import migrations


COLUMNS = {
    "trading_symbol": [
        "min_quantity",
        "min_notional",
        "min_notional_market",
        "max_notional",
        "max_notional_market",
        "maker_commission",
        "taker_commission",
    ],
    "trading_candle": ["open", "high", "low", "close", "volume", "quote_volume"],
    "trading_tradingaccount": ["paper_starting_balance"],
    "trading_order": [
        "quantity",
        "quote_quantity",
        "price",
        "executed_qty",
        "cummulative_quote_qty",
        "avg_price",
    ],
    "trading_fill": ["price", "qty", "quote_qty", "commission"],
    "trading_balance": ["free", "locked"],
    "trading_portfoliosnapshot": ["value"],
}


def encode(apps, schema_editor):
    config.fields.reencode_columns(schema_editor, COLUMNS)


def decode(apps, schema_editor):
    config.fields.reencode_columns(schema_editor, COLUMNS, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0002_favourites_snapshots"),
    ]

    operations = [
        migrations.RunPython(encode, decode),
        migrations.AlterField(
            model_name="balance",
            name="free",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="balance",
            name="locked",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="candle",
            name="close",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="candle",
            name="high",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="candle",
            name="low",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="candle",
            name="open",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="candle",
            name="quote_volume",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="candle",
            name="volume",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="fill",
            name="commission",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="fill",
            name="price",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="fill",
            name="qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="fill",
            name="quote_qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="order",
            name="avg_price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="order",
            name="cummulative_quote_qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="order",
            name="executed_qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="order",
            name="price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="order",
            name="quantity",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="order",
            name="quote_quantity",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="portfoliosnapshot",
            name="value",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="maker_commission",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="max_notional",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="max_notional_market",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="min_notional",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="min_notional_market",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="min_quantity",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="symbol",
            name="taker_commission",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="tradingaccount",
            name="paper_starting_balance",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("10000"), max_digits=36),
        ),
    ]
