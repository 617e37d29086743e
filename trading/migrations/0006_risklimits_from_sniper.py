# RiskLimits moves here from the sniper app (sniper 0005 lets go of it): state only, on the table it
# already has, so every user's limits survive.

import config.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0005_symbol_trade_sides_choices'),
        ('sniper', '0005_risklimits_to_trading'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RiskLimits',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('max_order_value', config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True)),
                        ('max_total_exposure', config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True)),
                        ('max_open_positions', models.PositiveIntegerField(blank=True, null=True)),
                        ('daily_loss_limit', config.fields.ExactDecimalField(blank=True, decimal_places=18, max_digits=36, null=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='risk_limits', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'sniper_risklimits'},
                ),
            ],
            database_operations=[],
        ),
    ]
