# RiskLimits belongs to the trading core now (trading 0006 takes it over with its table): state only,
# the table `sniper_risklimits` and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('sniper', '0004_rule_deleted_at'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='RiskLimits')],
            database_operations=[],
        ),
    ]
