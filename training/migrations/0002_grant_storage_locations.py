"""Storage is scoped per workspace (aiplatform.locations): the outputs and inputs training jobs
named before are granted to their workspaces (see aiplatform.legacy_locations)."""

from django.db import migrations

from aiplatform.legacy_locations import grant_locations, revoker

NOTE = "migrated by training.0002"


def grant(apps, schema_editor):
    jobs = list(apps.get_model("training", "TrainingJob").objects.order_by("created_at").values(
        "id", "workspace_id", "output_uri", "inputs"))
    rows = [(j["workspace_id"], j["output_uri"], False, f"output of training job {j['id']}") for j in jobs]
    rows += [(j["workspace_id"], item["uri"], True, f"input of training job {j['id']}") for j in jobs
             for item in j["inputs"] or [] if isinstance(item, dict) and item.get("uri")
             and not item.get("dataset_version")]
    grant_locations(apps, rows, note=NOTE)


class Migration(migrations.Migration):
    dependencies = [("training", "0001_initial"), ("datasets", "0003_grant_storage_locations")]

    operations = [migrations.RunPython(grant, revoker(NOTE), elidable=True)]
