"""Read queries of datasets. Everything is reached through a workspace, so another tenant's
dataset is never found."""

import uuid

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from .models import Dataset, DatasetVersion, ExportTask, ImportTask, Sample


def datasets(*, workspace) -> QuerySet[Dataset]:
    return Dataset.objects.filter(workspace=workspace).select_related("created_by")


def dataset(*, workspace, dataset_id) -> Dataset:
    try:
        found = Dataset.objects.filter(workspace=workspace, pk=uuid.UUID(str(dataset_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("Dataset not found.")
    return found


def samples(*, dataset: Dataset) -> QuerySet[Sample]:
    return Sample.objects.filter(dataset=dataset)


def versions(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(dataset=dataset).select_related("created_by")


def import_tasks(*, dataset: Dataset) -> QuerySet[ImportTask]:
    return ImportTask.objects.filter(dataset=dataset).select_related("created_by")


def export_tasks(*, dataset: Dataset) -> QuerySet[ExportTask]:
    return ExportTask.objects.filter(dataset=dataset).select_related("created_by")
