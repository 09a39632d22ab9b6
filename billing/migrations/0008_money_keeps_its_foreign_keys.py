"""Money keeps its foreign keys: ledger entries, charges (account, workspace, flavor, package),
rated usage and notifications get their database constraints back (0003 and 0006 had dropped
them for commit time). Measured with bench/billing.py; the README's Performance section has the
figures. On a large installation adding them scans each table once to validate it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('aiplatform', '0004_outbox_task_leases'),
        ('billing', '0007_token_prices_and_usage'),
        ('resourcepools', '0006_queues_and_cohorts'),
    ]

    operations = [
        migrations.AlterField(
            model_name='charge',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='charge',
            name='flavor',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='resourcepools.flavor'),
        ),
        migrations.AlterField(
            model_name='charge',
            name='package',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='billing.package'),
        ),
        migrations.AlterField(
            model_name='charge',
            name='workspace',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.workspace'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='account',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='account',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='ratedtokenusage',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='ratedusage',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.account'),
        ),
    ]
