"""Storage is scoped per workspace (aiplatform.locations): the weights and scales models and
services named before are granted to their workspaces (see aiplatform.legacy_locations)."""

from django.db import migrations

from aiplatform.legacy_locations import grant_locations, revoker

NOTE = "migrated by inference.0004"


def grant(apps, schema_editor):
    models = apps.get_model("inference", "Model").objects.exclude(uri="").order_by("created_at")
    rows = [(workspace_id, uri, True, f"model {pk}") for pk, workspace_id, uri in models.values_list(
        "pk", "workspace_id", "uri")]
    for field in ("quantized_weights_uri", "kv_scales_uri"):
        services = apps.get_model("inference", "Service").objects.exclude(**{field: ""}).order_by("created_at")
        rows += [(workspace_id, uri, True, f"{field} of service {pk}") for pk, workspace_id, uri in
                 services.values_list("pk", "workspace_id", field)]
    grant_locations(apps, rows, note=NOTE)


class Migration(migrations.Migration):
    dependencies = [("inference", "0003_benchmark_run"), ("training", "0002_grant_storage_locations")]

    operations = [migrations.RunPython(grant, revoker(NOTE), elidable=True)]
