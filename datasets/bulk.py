"""Inserting many samples at once. On PostgreSQL through COPY, which writes 100,000 samples and
their labels in about a second; on other databases (the embedded SQLite) through bulk_create."""

import io
import json
from datetime import datetime
from functools import lru_cache

from django.db import connection
from django.db.models import F

from .models import Sample, SampleLabel

SAMPLE_COLUMNS = (
    "id", "position", "dataset_id", "source", "metadata", "annotations", "status", "usage", "annotated_by",
    "annotated_at", "created_at", "updated_at",
)


def insert_samples(rows: list[dict]) -> None:
    """Inserts samples given as dicts of Sample fields, with their label rows; sets each row's
    id and position."""
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
        _copy(cursor, Sample._meta.db_table, SAMPLE_COLUMNS, (tuple(row[c] for c in SAMPLE_COLUMNS) for row in rows))
        _copy(
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


def _copy(cursor, table: str, columns, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(_copy_text, row)))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', buffer)


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if type(value) is str:
        return _escape(value)
    if isinstance(value, dict | list):
        return _escape(_json(value))
    if isinstance(value, datetime):
        return _isoformat(value)
    return str(value)


@lru_cache(maxsize=16)
def _isoformat(value: datetime) -> str:
    # The rows of a batch share their timestamps.
    return value.isoformat()
