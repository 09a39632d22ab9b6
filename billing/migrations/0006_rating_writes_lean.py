"""What a rating run reads and writes, made cheaper:
- usage records indexed by pod set, replicas, node-seconds and start (with the id), which rating's
  summary reads in order instead of hashing the table; that index and the account's rating index
  stand in for the two foreign keys' own;
- a run's lines kept as JSON text (lz4-compressed where PostgreSQL has lz4), not parsed into jsonb;
- ledger entries and notifications without database foreign keys (checked one by one at the
  commit), their keys unique by a constraint (no index for LIKE beside it);
- packages and billing accounts, rewritten by every run, keep half of each page free, so that
  their updates stay on the page and leave the indexes alone.
On a large installation this takes locks while it runs: usage_runs is built (metering waits), and
the runs' table rewritten; runs written before it stay pglz-compressed."""

import django.db.models.deletion
import billing.models
from django.conf import settings
from django.db import migrations, models


# Tables whose rows rating updates in place (PostgreSQL's fillfactor; the embedded SQLite has none).
UPDATED_IN_PLACE = ("billing_package", "billing_billingaccount")


def store_for_rating(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in UPDATED_IN_PLACE:
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        (lz4,) = cursor.fetchone() or (False,)
    if lz4:
        schema_editor.execute("ALTER TABLE billing_ratedusage ALTER COLUMN lines SET COMPRESSION lz4")


def store_as_before(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in UPDATED_IN_PLACE:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('aiplatform', '0001_initial'),
        ('billing', '0005_rated_usage_lines_by_workload'),
        ('resourcepools', '0003_podset_autoscaling'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerentry',
            name='account',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='key',
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name='notification',
            name='account',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='key',
            field=models.CharField(help_text='One notification per event, however often seen.', max_length=200),
        ),
        migrations.AddConstraint(
            model_name='ledgerentry',
            constraint=models.UniqueConstraint(fields=('key',), name='ledger_entry_once'),
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.UniqueConstraint(fields=('key',), name='notification_once'),
        ),
        migrations.AlterField(
            model_name='ratedusage',
            name='lines',
            field=billing.models.JSONText(default=list),
        ),
        migrations.AlterField(
            model_name='usagerecord',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.account'),
        ),
        migrations.AlterField(
            model_name='usagerecord',
            name='pod_set',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='resourcepools.podset'),
        ),
        migrations.AddIndex(
            model_name='usagerecord',
            index=models.Index(fields=['pod_set', 'replicas', 'node_seconds', 'started_at'], include=('id',), name='usage_runs'),
        ),
        migrations.RunPython(store_for_rating, store_as_before),
    ]
