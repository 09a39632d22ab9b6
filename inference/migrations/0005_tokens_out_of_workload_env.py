"""Benchmark tokens reach a run's load generator at submit (k8s.runtime_secrets), never through its
workload's env, which every member of the workspace reads; the tokens and the host's storage path
that runs and services created before kept there go."""

from django.db import migrations

REMOVED = {"benchmark": ("AIP_BENCHMARK_TOKEN", "AIP_LOCAL_STORAGE_ROOT"), "inference": ("AIP_LOCAL_STORAGE_ROOT",)}


def scrub(apps, schema_editor):
    Workload = apps.get_model("resourcepools", "Workload")
    for kind, names in REMOVED.items():
        for workload in Workload.objects.filter(kind=kind, env__has_any_keys=names).only("env"):
            workload.env = {k: v for k, v in workload.env.items() if k not in names}
            workload.save(update_fields=["env"])


class Migration(migrations.Migration):
    dependencies = [("inference", "0004_grant_storage_locations"), ("resourcepools", "0005_workload_hold")]

    operations = [migrations.RunPython(scrub, migrations.RunPython.noop, elidable=True)]
