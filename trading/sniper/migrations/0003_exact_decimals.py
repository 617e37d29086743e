"""Money and quantity columns become exact (config/fields.py): existing values are rewritten as sortable
text first, so the rebuilt tables' CHECK constraints, which compare that text, hold for every row."""

import config.fields
from decimal import Decimal
from django.db import migrations


COLUMNS = {
    "sniper_rule": ["trigger_value", "amount", "max_price", "stop_loss_pct", "trailing_pct"],
    "sniper_rulefiring": ["limit_price"],
    "sniper_position": [
        "qty",
        "peak_qty",
        "avg_entry",
        "realised_pnl",
        "stop_loss_pct",
        "trailing_pct",
        "high_watermark",
    ],
    "sniper_positionexit": ["qty", "trigger_price"],
    "sniper_appliedfill": ["realised"],
    "sniper_risklimits": ["max_order_value", "max_total_exposure", "daily_loss_limit"],
    "sniper_pricealert": ["value", "reference_price", "triggered_price"],
}


def encode(apps, schema_editor):
    config.fields.reencode_columns(schema_editor, COLUMNS)


def decode(apps, schema_editor):
    config.fields.reencode_columns(schema_editor, COLUMNS, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("sniper", "0002_armed_firings"),
    ]

    operations = [
        migrations.RunPython(encode, decode),
        migrations.AlterField(
            model_name="appliedfill",
            name="realised",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="position",
            name="avg_entry",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="position",
            name="high_watermark",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="position",
            name="peak_qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="position",
            name="qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="position",
            name="realised_pnl",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="position",
            name="stop_loss_pct",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=4, max_digits=9, null=True),
        ),
        migrations.AlterField(
            model_name="position",
            name="trailing_pct",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=4, max_digits=9, null=True),
        ),
        migrations.AlterField(
            model_name="positionexit",
            name="qty",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="positionexit",
            name="trigger_price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="pricealert",
            name="reference_price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="pricealert",
            name="triggered_price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="pricealert",
            name="value",
            field=config.fields.ExactDecimalField(decimal_places=18, default=Decimal("0"), max_digits=36),
        ),
        migrations.AlterField(
            model_name="risklimits",
            name="daily_loss_limit",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="risklimits",
            name="max_order_value",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="risklimits",
            name="max_total_exposure",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="rule",
            name="amount",
            field=config.fields.ExactDecimalField(
                decimal_places=18,
                default=Decimal("0"),
                help_text="Quote amount (e.g. USDT) to spend per firing; never exceeded",
                max_digits=36,
            ),
        ),
        migrations.AlterField(
            model_name="rule",
            name="max_price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="rule",
            name="stop_loss_pct",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=4, max_digits=9, null=True),
        ),
        migrations.AlterField(
            model_name="rule",
            name="trailing_pct",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=4, max_digits=9, null=True),
        ),
        migrations.AlterField(
            model_name="rule",
            name="trigger_value",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="rulefiring",
            name="limit_price",
            field=config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True),
        ),
    ]
