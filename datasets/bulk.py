"""Inserting many samples at once. On PostgreSQL through COPY, which writes 100,000 samples and
their labels in about a second; on other databases (the embedded SQLite) through bulk_create."""

from django.db import connection
from django.db.models import F

from aiplatform import sql

from .models import Sample, SampleLabel

# What a new sample's COPY text holds; its id and position follow, known only when it is written.
SAMPLE_FIELDS = (
    "dataset_id", "source", "metadata", "annotations", "status", "usage", "annotated_by", "annotated_at",
    "created_at", "updated_at",
)


def sample_text(row: dict) -> str:
    """A new sample's fields (a dict of Sample fields) in COPY's text format, but for its id and
    position: an import makes these for its next batch while the current one is written."""
    return sql.copy_text([row[name] for name in SAMPLE_FIELDS])


def insert_samples(rows: list[dict], texts: list[str] | None = None) -> None:
    """Inserts samples given as dicts of Sample fields, with their label rows; sets each row's
    id and position. `texts` are the rows' `sample_text`, if made already."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        samples = Sample.objects.bulk_create([Sample(**row) for row in rows])
        Sample.objects.filter(pk__in=[sample.pk for sample in samples]).update(position=F("id"))
        SampleLabel.objects.bulk_create(label_rows(samples))
        for row, sample in zip(rows, samples, strict=True):
            row["id"] = row["position"] = sample.pk
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Sample._meta.db_table, len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row["id"] = row["position"] = pk
        texts = map(sample_text, rows) if texts is None else texts
        sql.copy_texts(cursor, Sample._meta.db_table, (*SAMPLE_FIELDS, "id", "position"), (
            f"{text}\t{row['id']}\t{row['id']}" for row, text in zip(rows, texts, strict=True)))
        sql.copy_rows(
            cursor, SampleLabel._meta.db_table, ("sample_id", "dataset_id", "name"),
            ((row["id"], row["dataset_id"], name) for row in rows for name in _names(row["annotations"])),
        )


def label_rows(samples) -> list[SampleLabel]:
    return [
        SampleLabel(sample_id=sample.pk, dataset_id=sample.dataset_id, name=name)
        for sample in samples
        for name in _names(sample.annotations)
    ]


def _names(annotations: list) -> list[str]:
    return list(dict.fromkeys(a["name"] for a in annotations))
