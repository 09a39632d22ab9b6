"""Inserting many samples at once. On PostgreSQL through COPY, which writes 100,000 samples and
their labels in about a second; on other databases (the embedded SQLite) through bulk_create."""

from typing import NamedTuple

from django.db import connection
from django.db.models import F

from aiplatform import sql

from .models import Sample, SampleLabel

# What a new sample's COPY text holds; its id and position follow, known only when it is written.
SAMPLE_FIELDS = (
    "dataset_id", "source", "metadata", "annotations", "status", "usage", "annotated_by", "annotated_at",
    "created_at", "updated_at",
)


class SampleText(NamedTuple):
    """A new sample in COPY's text format but for its id and position, known only when it is
    written: its fields, and the rest of each of its label rows after the sample id."""

    fields: str
    labels: list[str]


def sample_text(row: dict) -> SampleText:
    """A new sample (a dict of Sample fields) ready for COPY: an import makes these for its next
    batch while the current one is written."""
    tail = f"\t{row['dataset_id']}\t"
    return SampleText(sql.copy_text([row[name] for name in SAMPLE_FIELDS]),
                      [tail + sql.copy_escape(name) for name in _names(row["annotations"])])


def insert_samples(rows: list[dict], texts: list[SampleText] | None = None) -> None:
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
        texts = list(map(sample_text, rows) if texts is None else texts)
        sql.copy_texts(cursor, Sample._meta.db_table, (*SAMPLE_FIELDS, "id", "position"), (
            f"{text.fields}\t{row['id']}\t{row['id']}" for row, text in zip(rows, texts, strict=True)))
        sql.copy_texts(cursor, SampleLabel._meta.db_table, ("sample_id", "dataset_id", "name"), (
            f"{row['id']}{label}" for row, text in zip(rows, texts, strict=True) for label in text.labels))


def label_rows(samples) -> list[SampleLabel]:
    return [
        SampleLabel(sample_id=sample.pk, dataset_id=sample.dataset_id, name=name)
        for sample in samples
        for name in _names(sample.annotations)
    ]


def _names(annotations: list) -> list[str]:
    return list(dict.fromkeys(a["name"] for a in annotations))
