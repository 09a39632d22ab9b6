"""Read queries of datasets. Everything is reached through a workspace, so another tenant's
dataset is never found."""

import uuid

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, TextField
from django.db.models.functions import Cast
from rest_framework.exceptions import NotFound

from .models import AnnotationItem, AnnotationTask, Dataset, DatasetVersion, ExportTask, ImportTask, Sample


def datasets(*, workspace) -> QuerySet[Dataset]:
    return Dataset.objects.filter(workspace=workspace).select_related("created_by")


def dataset(*, workspace, dataset_id) -> Dataset:
    try:
        key = uuid.UUID(str(dataset_id))
    except ValueError:
        raise NotFound("Dataset not found.") from None
    # Every request under a dataset starts here: hand-written SQL spares the ORM's compile.
    found = next(iter(Dataset.objects.raw(
        f"SELECT * FROM {Dataset._meta.db_table} WHERE id = %s AND workspace_id = %s",
        [Dataset._meta.pk.get_db_prep_value(key, connection),
         Dataset._meta.get_field("workspace").get_db_prep_value(workspace.pk, connection)],
    )), None)
    if found is None:
        raise NotFound("Dataset not found.")
    return found


def samples(*, dataset: Dataset) -> QuerySet[Sample]:
    return Sample.objects.filter(dataset=dataset)


def sample_rows(*, dataset: Dataset) -> QuerySet:
    """The dataset's samples as rows for lists, with metadata and annotations as their stored
    JSON text: a page passes them on as they are instead of decoding and re-encoding them."""
    return samples(dataset=dataset).values(
        "id", "source", "status", "usage", "annotated_by", "annotated_at", "created_at", "updated_at", "position",
        metadata_json=Cast("metadata", TextField()), annotations_json=Cast("annotations", TextField()),
    )


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
    items = AnnotationItem.objects.filter(task=task).select_related("sample", "assignee", "reviewed_by")
    return items.filter(assignee=assignee) if assignee is not None else items


def annotation_task(*, dataset: Dataset, task_id) -> AnnotationTask:
    try:
        found = annotation_tasks(dataset=dataset).filter(pk=uuid.UUID(str(task_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("Annotation task not found.")
    return found
