"""An index of samples' annotations on PostgreSQL (jsonb_path_ops), so that a page of a rare
label is found through it rather than by walking every sample of the dataset. The embedded
SQLite filters labels through the label rows and gets no such index."""

from django.db import migrations

INDEX = "sample_annotations_path_ops"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON datasets_sample USING gin (annotations jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
