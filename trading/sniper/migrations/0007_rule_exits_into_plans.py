"""Open positions opened before exit plans carry their rules' stop-loss and trailing stop on the
whole position (the tightest of them), so a rule's stop would still sell other rules' and manual
coins. Each rule with exits that bought into an open position gets its plan, sized on what its own
fills brought in; the rules' exits leave the position itself (rules set them there: nothing else
did, `position_protect` has no page)."""

import re
from decimal import Decimal

from django.db import migrations

FIRING_ID = re.compile(r"^snf(\d+)a\d+$")


def forwards(apps, schema_editor):
    Position = apps.get_model("sniper", "Position")
    ExitPlan = apps.get_model("sniper", "ExitPlan")
    PositionExit = apps.get_model("sniper", "PositionExit")
    AppliedFill = apps.get_model("sniper", "AppliedFill")
    RuleFiring = apps.get_model("sniper", "RuleFiring")
    Rule = apps.get_model("sniper", "Rule")
    Symbol = apps.get_model("trading", "Symbol")
    for pos in Position.objects.filter(status="open", rule__isnull=False):
        symbol = Symbol.objects.filter(symbol=pos.symbol).first()
        base, quote = (symbol.base_asset, symbol.quote_asset) if symbol else ("", "")
        bought: dict[int, list[Decimal]] = {}
        buys = AppliedFill.objects.filter(position=pos, fill__order__side="BUY").select_related("fill__order")
        for applied in buys:
            fill = applied.fill
            match = FIRING_ID.match(fill.order.client_order_id)
            firing = RuleFiring.objects.filter(pk=match.group(1)).first() if match else None
            if firing is None:
                continue
            got = fill.qty - (fill.commission if fill.commission_asset == base else 0)
            cost = fill.quote_qty + (fill.commission if fill.commission_asset == quote else 0)
            held = bought.setdefault(firing.rule_id, [Decimal(0), Decimal(0)])
            held[0] += got
            held[1] += cost
        for rule_id, (got, cost) in bought.items():
            rule = Rule.objects.get(pk=rule_id)
            if not (rule.stop_loss_pct or rule.trailing_pct or rule.take_profit) or got <= 0:
                continue
            mine = [i for i, level in enumerate(pos.take_profit) if level.get("rule") == rule_id]
            plan = ExitPlan.objects.create(
                position=pos,
                rule=rule,
                bought=got,
                entry=(cost / got).quantize(Decimal("1e-18")),
                stop_loss_pct=rule.stop_loss_pct,
                trailing_pct=rule.trailing_pct,
                high_watermark=pos.high_watermark,
                take_profit=[
                    {"gain_pct": pos.take_profit[i]["gain_pct"], "sell_pct": pos.take_profit[i]["sell_pct"],
                     "done": bool(pos.take_profit[i].get("done"))}
                    for i in mine
                ],
            )  # fmt: skip
            # What its ladder sold already counts against what the plan may still sell.
            PositionExit.objects.filter(position=pos, kind="take_profit", level__in=mine).update(plan=plan)
        pos.stop_loss_pct = None
        pos.trailing_pct = None
        pos.take_profit = [level for level in pos.take_profit if "rule" not in level]
        pos.save(update_fields=["stop_loss_pct", "trailing_pct", "take_profit"])


class Migration(migrations.Migration):
    dependencies = [("sniper", "0006_exit_plans"), ("trading", "0006_risklimits_from_sniper")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
