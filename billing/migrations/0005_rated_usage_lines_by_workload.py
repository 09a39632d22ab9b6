"""Rating runs' lines grouped by workload: each workload named once per run, not on every line."""

from django.db import migrations


def by_workload(apps, schema_editor):
    RatedUsage = apps.get_model("billing", "RatedUsage")
    for run in RatedUsage.objects.iterator():
        workloads = {}
        for period, workspace_id, workload_id, name, mode, flavor_id, package_id, unit_price, seconds in run.lines:
            workloads.setdefault((workspace_id, workload_id, name), []).append(
                [period, mode, flavor_id, package_id, unit_price, seconds])
        run.lines = [[*owner, charges] for owner, charges in workloads.items()]
        run.save(update_fields=["lines"])


def line_by_line(apps, schema_editor):
    RatedUsage = apps.get_model("billing", "RatedUsage")
    for run in RatedUsage.objects.iterator():
        run.lines = [[period, workspace_id, workload_id, name, mode, flavor_id, package_id, unit_price, seconds]
                     for workspace_id, workload_id, name, charges in run.lines
                     for period, mode, flavor_id, package_id, unit_price, seconds in charges]
        run.save(update_fields=["lines"])


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0004_rated_usage_per_run"),
    ]

    operations = [
        migrations.RunPython(by_workload, line_by_line),
    ]
