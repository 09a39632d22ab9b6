"""Storage is scoped per workspace (aiplatform.locations): the locations datasets named before
are granted to their workspaces, each dataset's own folder first (see aiplatform.legacy_locations)."""

from django.db import migrations

from aiplatform.legacy_locations import grant_locations, revoker

MANIFEST_SUFFIXES = (".manifest", ".jsonl")

NOTE = "migrated by datasets.0003"


def grant(apps, schema_editor):
    Dataset = apps.get_model("datasets", "Dataset")
    ImportTask = apps.get_model("datasets", "ImportTask")
    ExportTask = apps.get_model("datasets", "ExportTask")
    datasets = list(Dataset.objects.order_by("created_at").values("id", "workspace_id", "output_uri", "input_uri"))
    # Versions are written under <output>/<dataset id>/ (or to the output itself when it names a manifest).
    rows = [(d["workspace_id"], d["output_uri"] if d["output_uri"].endswith(MANIFEST_SUFFIXES)
             else f"{d['output_uri'].rstrip('/')}/{d['id']}/", False, f"dataset {d['id']}") for d in datasets]
    rows += [(d["workspace_id"], d["input_uri"], True, f"input of dataset {d['id']}") for d in datasets]
    rows += [(workspace_id, uri, True, f"import {pk}") for pk, workspace_id, uri in ImportTask.objects.order_by(
        "created_at").values_list("pk", "dataset__workspace_id", "source_uri")]
    rows += [(workspace_id, uri, True, f"export {pk}") for pk, workspace_id, uri in ExportTask.objects.exclude(
        result_uri="").order_by("created_at").values_list("pk", "dataset__workspace_id", "result_uri")]
    grant_locations(apps, rows, note=NOTE)


class Migration(migrations.Migration):
    dependencies = [("datasets", "0002_sample_annotations_index"), ("aiplatform", "0003_storage_scoping")]

    operations = [migrations.RunPython(grant, revoker(NOTE), elidable=True)]
