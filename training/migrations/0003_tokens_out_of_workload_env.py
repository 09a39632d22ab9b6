"""Job tokens reach a job's replicas at submit (k8s.runtime_secrets), never through its workload's
env, which every member of the workspace reads; the tokens and the host's storage path that jobs
created before kept there go. A running job keeps the token its processes (or its Secret) hold."""

from django.db import migrations

REMOVED = ("AIP_JOB_TOKEN", "AIP_LOCAL_STORAGE_ROOT")


def scrub(apps, schema_editor):
    Workload = apps.get_model("resourcepools", "Workload")
    for workload in Workload.objects.filter(kind="training", env__has_any_keys=REMOVED).only("env"):
        workload.env = {k: v for k, v in workload.env.items() if k not in REMOVED}
        workload.save(update_fields=["env"])


class Migration(migrations.Migration):
    dependencies = [("training", "0002_grant_storage_locations"), ("resourcepools", "0005_workload_hold")]

    operations = [migrations.RunPython(scrub, migrations.RunPython.noop, elidable=True)]
