"""Read queries of datasets. Everything is reached through a workspace, so another tenant's
dataset is never found."""

import uuid

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Count, F, Prefetch, Q, QuerySet
from rest_framework.exceptions import NotFound

from aiplatform import jsoncodec, sql

from .models import (
    AnnotationItem,
    AnnotationTask,
    Dataset,
    DatasetVersion,
    ExportTask,
    ImportTask,
    Prediction,
    PrelabelTask,
    Sample,
    SampleLabel,
)

SAMPLE_ROW_FIELDS = (
    "id", "source", "status", "usage", "annotated_by", "annotated_at", "created_at", "updated_at", "position",
)


def datasets(*, workspace) -> QuerySet[Dataset]:
    return Dataset.objects.filter(workspace=workspace).select_related("created_by")


def samples(*, dataset: Dataset) -> QuerySet[Sample]:
    return Sample.objects.filter(dataset=dataset)


def sample_page(
    *, dataset: Dataset, position=None, reverse: bool = False, offset: int = 0, limit: int,
    status: str = "", usage: str = "", annotated_by: str = "", source: str = "", label: str = "",
    prediction: str = "", confidence_below=None,
) -> list[dict]:
    """Up to `limit` of the dataset's samples that SampleFilter's filters select (empty ones
    select all), after `position` in position order, or before it in descending order when
    `reverse`, skipping `offset`: rows for the list API, with metadata and annotations as their
    stored JSON text (`metadata_json`, `annotations_json`) to pass on without decoding them."""
    # The list API's query, hand-written: building and compiling it with the ORM cost more CPU
    # than PostgreSQL spends running it. tests/datasets checks it against SampleFilter.
    db = connections[DEFAULT_DB_ALIAS]  # not the django.db.connection proxy: a look-up per use
    fields = [Sample._meta.get_field(name) for name in SAMPLE_ROW_FIELDS]
    where = ["s.dataset_id = %s"]
    params = [Sample._meta.get_field("dataset").get_db_prep_value(dataset.pk, db)]
    for name, value in (("status", status), ("usage", usage), ("annotated_by", annotated_by)):
        if value:
            where.append(f"s.{name} = %s")
            params.append(value)
    if source:
        where.append(f"s.source {db.operators['startswith']}")
        params.append(db.ops.prep_for_like_query(source) + "%")
    if label and db.vendor == "postgresql":
        # The annotations name the same labels as the sample's label rows. For a common label
        # PostgreSQL tests them on the rows of the dataset's position range scan (a semi-join
        # probed the label index for each of the ~570 samples a page passed); for a rare one its
        # statistics send it through the annotations' index (migration 0002), not every sample.
        where.append("s.annotations @> %s::jsonb")
        params.append(jsoncodec.dumps([{"name": label}]).decode())
    elif label:
        where.append(
            f"EXISTS (SELECT 1 FROM {SampleLabel._meta.db_table} l"
            f" WHERE l.dataset_id = s.dataset_id AND l.name = %s AND l.sample_id = s.id)"
        )
        params.append(label)
    if prediction or confidence_below is not None:
        conditions = ["p.sample_id = s.id"]
        if prediction:
            conditions.append("p.state = %s")
            params.append(prediction)
        if confidence_below is not None:
            conditions.append("p.confidence < %s")
            params.append(float(confidence_below))
        where.append(f"EXISTS (SELECT 1 FROM {Prediction._meta.db_table} p WHERE {' AND '.join(conditions)})")
    if position is not None:
        # As the ORM reads a cursor's position (a malformed one fails the same way).
        where.append("s.position < %s" if reverse else "s.position > %s")
        params.append(Sample._meta.get_field("position").get_prep_value(position))
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql.columns('s', fields)}, CAST(s.metadata AS text), CAST(s.annotations AS text)"
            f" FROM {Sample._meta.db_table} s WHERE {' AND '.join(where)}"
            f" ORDER BY s.position {'DESC' if reverse else 'ASC'} LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = cursor.fetchall()
    read = sql.reader(fields)
    names = [*SAMPLE_ROW_FIELDS, "metadata_json", "annotations_json"]
    return [dict(zip(names, read(row), strict=True)) for row in rows]


def existing_sources(*, dataset: Dataset, sources: list[str]) -> set[str]:
    """Which of these sources the dataset's samples already have."""
    if connection.vendor != "postgresql":
        return set(Sample.objects.filter(dataset=dataset, source__in=sources).values_list("source", flat=True))
    # One array parameter: the ORM's IN list of an import batch's 5,000 sources cost more CPU
    # to build than PostgreSQL spends answering it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source FROM {Sample._meta.db_table} WHERE dataset_id = %s AND source = ANY(%s)",
            [Sample._meta.get_field("dataset").get_db_prep_value(dataset.pk, connection), sources],
        )
        return {source for (source,) in cursor.fetchall()}


def versions(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(dataset=dataset).select_related("created_by")


def import_tasks(*, dataset: Dataset) -> QuerySet[ImportTask]:
    return ImportTask.objects.filter(dataset=dataset).select_related("created_by")


def export_tasks(*, dataset: Dataset) -> QuerySet[ExportTask]:
    return ExportTask.objects.filter(dataset=dataset).select_related("created_by")


def _item_counts(prefix: str = "") -> dict:
    """Counts of items by status, as annotations of a query over items (or over tasks' items)."""
    counts = {"total": Count(f"{prefix}id")}
    for status in AnnotationItem.Status:
        counts[status.value] = Count(f"{prefix}id", filter=Q(**{f"{prefix}status": status}))
    return counts


def annotation_tasks(*, dataset: Dataset) -> QuerySet[AnnotationTask]:
    """The dataset's tasks with their progress (items by status), in one query."""
    counts = {f"items_{name}": count for name, count in _item_counts("items__").items()}
    return AnnotationTask.objects.filter(dataset=dataset).select_related("created_by").annotate(**counts)


def annotator_stats(*, task: AnnotationTask) -> list[dict]:
    return list(
        AnnotationItem.objects.filter(task=task).values(username=F("assignee__username"))
        .annotate(**_item_counts()).order_by("username")
    )


def annotation_items(*, task: AnnotationTask, assignee=None) -> QuerySet[AnnotationItem]:
    """The task's items; an annotator's own only, when `assignee` is given."""
    waiting = Prediction.objects.filter(state=Prediction.State.PREDICTED).order_by("-confidence", "id")
    items = (AnnotationItem.objects.filter(task=task).select_related("sample", "assignee", "reviewed_by")
             .prefetch_related(Prefetch("sample__predictions", queryset=waiting, to_attr="waiting_predictions")))
    return items.filter(assignee=assignee) if assignee is not None else items


def annotation_task(*, dataset: Dataset, task_id) -> AnnotationTask:
    try:
        found = annotation_tasks(dataset=dataset).filter(pk=uuid.UUID(str(task_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("Annotation task not found.")
    return found


def prelabel_tasks(*, dataset: Dataset) -> QuerySet[PrelabelTask]:
    return PrelabelTask.objects.filter(dataset=dataset).select_related("created_by")


def prelabel_task(*, dataset: Dataset, task_id) -> PrelabelTask | None:
    try:
        return PrelabelTask.objects.filter(dataset=dataset, pk=uuid.UUID(str(task_id))).first()
    except ValueError:
        return None


def predictions(*, dataset: Dataset) -> QuerySet[Prediction]:
    return Prediction.objects.filter(dataset=dataset).select_related("sample", "reviewed_by")
