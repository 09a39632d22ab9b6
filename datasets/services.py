"""Business operations of datasets. Keyword-only arguments, each in a transaction; views and
Celery tasks call these and never write models themselves."""

import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, TextField, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform import jsoncodec, leases, locations
from aiplatform.celery import enqueue_on_commit
from aiplatform.errors import IllegalTransition
from aiplatform.models import ROLE_CAPABILITIES, Capability, Membership
from aiplatform.storage import StorageError, parse_uri

from . import archives, formats, prelabel, selectors, splits, tasks, writers
from .bulk import SampleText, insert_samples, label_rows, sample_text
from .domain import (
    ANNOTATION_TYPES,
    ANNOTATOR_LENGTH,
    INLINE_TEXT_SCHEME,
    TEXT_TYPES,
    DatasetType,
    accepts_object,
    annotation_error,
    creation_time,
    default_colour,
    label_set_errors,
    normalized_label_set,
)
from .filters import SampleFilter
from .manifest import ManifestLineError, ManifestSample, read_manifest, write_manifest
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
    TaskStatus,
)

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
IMPORT_BATCH = 5000
ANALYZE_AFTER = 10_000
KNOWN_SOURCE = "sample_source_unique_per_dataset"  # the constraint a source already in the dataset breaks
ANALYZED_COLUMNS = ("dataset_id", "source", "status", "usage", "annotated_by", "position", "annotations")
USAGE_TO_MANIFEST = {Sample.Usage.TRAIN: "TRAIN", Sample.Usage.EVAL: "EVAL", Sample.Usage.INFERENCE: "INFERENCE"}
USAGE_FROM_MANIFEST = {v: k for k, v in USAGE_TO_MANIFEST.items()}


# --- status transitions -------------------------------------------------------------------------


def transition(*, instance, to: str, **fields):
    """Moves a version or task to another status under a row lock, refusing illegal moves."""
    model = type(instance)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=instance.pk)
        if to not in model.TRANSITIONS.get(locked.status, set()):
            raise IllegalTransition(f"A {model._meta.verbose_name} that is {locked.status} cannot become {to}.")
        locked.status = to
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
    return locked


# --- datasets -----------------------------------------------------------------------------------


def _check_labels(labels):
    errors = label_set_errors(labels)
    if errors:
        raise ValidationError(errors)
    return normalized_label_set(labels)


def _check_locations(workspace, fields: dict) -> None:
    """The dataset's locations must be the workspace's: its output written, its input read."""
    if fields.get("output_uri"):
        locations.check(workspace=workspace, uri=fields["output_uri"], field="output_uri", write=True)
    if fields.get("input_uri"):
        locations.check(workspace=workspace, uri=fields["input_uri"], field="input_uri")


@transaction.atomic
def create_dataset(*, workspace, created_by, name: str, type: str, output_uri: str = "", description: str = "",
                   input_uri: str = "", labels: list | None = None) -> Dataset:
    if Dataset.objects.filter(workspace=workspace, name=name).exists():
        raise ValidationError({"name": f"This workspace already has a dataset named '{name}'; choose another name."})
    output_uri = output_uri or locations.default_location(workspace=workspace, path="datasets/")
    _check_locations(workspace, {"output_uri": output_uri, "input_uri": input_uri})
    dataset = Dataset(
        workspace=workspace, created_by=created_by, name=name, type=type, description=description,
        input_uri=input_uri, output_uri=output_uri, labels=_check_labels(labels or []),
    )
    dataset.full_clean()
    dataset.save()
    return dataset


@transaction.atomic
def update_dataset(*, dataset: Dataset, **fields) -> Dataset:
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if "name" in fields and fields["name"] != dataset.name:
        if Dataset.objects.filter(workspace_id=dataset.workspace_id, name=fields["name"]).exists():
            raise ValidationError({"name": f"This workspace already has a dataset named '{fields['name']}'."})
    _check_locations(dataset.workspace, fields)
    if "type" in fields and fields["type"] != dataset.type and dataset.samples.exists():
        raise ValidationError({"type": "The type of a dataset with samples cannot change; create a new dataset."})
    if "labels" in fields:
        fields["labels"] = _check_labels(fields["labels"])
        removed = dataset.label_names - {label["name"] for label in fields["labels"]}
        in_use = sorted(
            SampleLabel.objects.filter(dataset=dataset, name__in=removed).values_list("name", flat=True).distinct()
        )
        if in_use:
            raise ValidationError({"labels": f"Samples still carry the labels {', '.join(in_use)}; "
                                             "remove those annotations before removing the labels."})
    for name, value in fields.items():
        setattr(dataset, name, value)
    dataset.full_clean()
    dataset.save()
    return dataset


@transaction.atomic
def delete_dataset(*, dataset: Dataset) -> None:
    """Deletes the dataset's records only: its source objects in storage stay untouched."""
    SampleLabel.objects.filter(dataset=dataset).delete()
    dataset.delete()


def refresh_counts(*, dataset: Dataset) -> None:
    counts = Sample.objects.filter(dataset=dataset).aggregate(
        total=Count("id"), labelled=Count("id", filter=~Q(annotations=[]))
    )
    Dataset.objects.filter(pk=dataset.pk).update(sample_count=counts["total"], labelled_count=counts["labelled"])
    dataset.sample_count, dataset.labelled_count = counts["total"], counts["labelled"]


# --- samples ------------------------------------------------------------------------------------


def _source_error(dataset: Dataset, places: locations.WorkspaceLocations, source) -> str | None:
    """What is wrong with a sample's source: a URI of the workspace's own locations, or inline text."""
    if not isinstance(source, str) or not source:
        return "Give the sample's source URI, e.g. s3://bucket/images/1.jpg."
    if len(source) > 1024:
        return "A source URI has at most 1024 characters."
    if source.startswith(INLINE_TEXT_SCHEME):
        return None if dataset.type in TEXT_TYPES else "Inline content:// sources are for text datasets only."
    return places.refusal(source)


def stamped_annotations(*, dataset: Dataset, annotations: list, metadata: dict, annotator: str, now,
                        label_names) -> tuple[list, dict]:
    """The annotations with their defaults and annotator stamped, and errors by annotation index."""
    result, errors = [], {}
    default_type = ANNOTATION_TYPES[dataset.type][0]
    for index, given in enumerate(annotations):
        if not isinstance(given, dict):
            errors[index] = "Each annotation is an object with at least a label 'name'."
            continue
        annotation = {"type": default_type, **given}
        annotation.setdefault("annotated-by", annotator)
        annotation.setdefault("creation-time", creation_time(now))
        problem = annotation_error(
            dataset_type=dataset.type, annotation=annotation, metadata=metadata, label_names=label_names
        )
        if problem:
            errors[index] = problem
        result.append(annotation)
    return result, errors


def _status_for(annotations: list) -> str:
    return Sample.Status.LABELLED if annotations else Sample.Status.UNLABELLED


@transaction.atomic
def add_samples(*, dataset: Dataset, samples: list[dict], user) -> list[Sample]:
    """Adds a batch of samples, all or none; errors name the item index and its field."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if not samples or len(samples) > MAX_BATCH:
        raise ValidationError({"samples": f"Give 1 to {MAX_BATCH} samples per request."})
    existing = selectors.existing_sources(
        dataset=dataset, sources=[s.get("source") for s in samples if isinstance(s.get("source"), str)])
    now = timezone.now()
    places = locations.WorkspaceLocations(dataset.workspace)
    errors, seen, created = {}, set(), []
    for index, item in enumerate(samples):
        problems = {}
        source = item.get("source")
        problem = _source_error(dataset, places, source)
        if problem:
            problems["source"] = problem
        elif source in existing or source in seen:
            problems["source"] = f"'{source}' is already in the dataset; each source is a sample once."
        seen.add(source)
        metadata = item.get("metadata") or {}
        annotations, annotation_errors = stamped_annotations(
            dataset=dataset, annotations=item.get("annotations") or [], metadata=metadata,
            annotator=user.username, now=now, label_names=dataset.label_names,
        )
        if annotation_errors:
            problems["annotations"] = annotation_errors
        if problems:
            errors[index] = problems
            continue
        created.append({
            "dataset_id": dataset.pk, "source": source, "metadata": metadata, "annotations": annotations,
            "status": _status_for(annotations), "usage": item.get("usage") or Sample.Usage.NONE,
            "annotated_by": user.username if annotations else "", "annotated_at": now if annotations else None,
            "created_at": now, "updated_at": now,
        })
    if errors:
        raise ValidationError({"samples": errors})
    insert_samples(created)
    refresh_counts(dataset=dataset)
    return [Sample(**row) for row in created]


def _samples_by_id(dataset: Dataset, ids: list, *, lock: bool = False) -> tuple[dict[int, Sample], list[int]]:
    """The dataset's samples with these ids, and the indexes of the ids it does not have."""
    valid = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    queryset = Sample.objects.filter(dataset=dataset, pk__in=valid).order_by("pk")
    if lock:
        queryset = queryset.select_for_update()
    found = {sample.pk: sample for sample in queryset}
    return found, [index for index, sample_id in enumerate(ids) if sample_id not in found]


def _check_batch(ids: list, field: str):
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BATCH:
        raise ValidationError({field: f"Give 1 to {MAX_BATCH} items per request."})


@transaction.atomic
def delete_samples(*, dataset: Dataset, ids: list) -> int:
    """Deletes samples (never their source objects); an unknown id fails the whole batch."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    _check_batch(ids, "ids")
    found, unknown = _samples_by_id(dataset, ids, lock=True)
    if unknown:
        raise ValidationError({"ids": {i: f"No sample {ids[i]!r} in this dataset." for i in unknown}})
    SampleLabel.objects.filter(sample_id__in=list(found)).delete()
    AnnotationItem.objects.filter(sample_id__in=list(found)).delete()
    Sample.objects.filter(pk__in=list(found)).delete()
    refresh_counts(dataset=dataset)
    return len(found)


def _replace_labels(samples: list[Sample]) -> None:
    SampleLabel.objects.filter(sample_id__in=[s.pk for s in samples]).delete()
    SampleLabel.objects.bulk_create(label_rows(samples))


@transaction.atomic
def annotate_samples(*, dataset: Dataset, items: list[dict], user) -> list[Sample]:
    """Replaces the annotations (and optionally the usage) of a batch of samples, all or none."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    _check_batch(items, "items")
    ids = [item.get("id") for item in items]
    found, unknown = _samples_by_id(dataset, ids, lock=True)
    errors = {i: {"id": f"No sample {ids[i]!r} in this dataset."} for i in unknown}
    now = timezone.now()
    changed = []
    for index, item in enumerate(items):
        sample = found.get(ids[index])
        if sample is None:
            continue
        annotations, annotation_errors = stamped_annotations(
            dataset=dataset, annotations=item.get("annotations") or [], metadata=sample.metadata,
            annotator=user.username, now=now, label_names=dataset.label_names,
        )
        if annotation_errors:
            errors[index] = {"annotations": annotation_errors}
            continue
        sample.annotations = annotations
        sample.status = _status_for(annotations)
        sample.annotated_by = user.username if annotations else ""
        sample.annotated_at = now if annotations else None
        if item.get("usage"):
            sample.usage = item["usage"]
        sample.updated_at = now  # bulk_update does not apply auto_now
        changed.append(sample)
    if errors:
        raise ValidationError({"items": errors})
    Sample.objects.bulk_update(
        changed, ["annotations", "status", "annotated_by", "annotated_at", "usage", "updated_at"]
    )
    _replace_labels(changed)
    refresh_counts(dataset=dataset)
    return changed


# --- manifests of samples -----------------------------------------------------------------------

MANIFEST_FIELDS = ("id", "source", "metadata", "annotations", "usage")


def manifest_sample(row: dict, usage: str = "") -> ManifestSample:
    return ManifestSample(
        source=row["source"], id=str(row["id"]), property=row["metadata"], annotation=row["annotations"],
        usage=usage or USAGE_TO_MANIFEST.get(row["usage"], ""),
    )


def _rows(queryset) -> Iterator[dict]:
    """The samples' MANIFEST_FIELDS, as values() gives them. A server-side cursor on PostgreSQL: one
    consistent snapshot, a few thousand rows in memory. The JSON columns come as text, decoded
    by jsoncodec (orjson): the ORM's decoding (the standard library's) took a third of the CPU of
    an export."""
    rows = queryset.order_by("position").annotate(
        metadata_text=Cast("metadata", TextField()), annotations_text=Cast("annotations", TextField()),
    ).values_list("id", "source", "usage", "metadata_text", "annotations_text").iterator(chunk_size=2000)
    for sample_id, source, usage, metadata, annotations in rows:
        yield {"id": sample_id, "source": source, "usage": usage, "metadata": jsoncodec.loads(metadata),
               "annotations": jsoncodec.loads(annotations)}


def _manifest_location(base_uri: str, name: str) -> str:
    location = parse_uri(base_uri)
    if location.key.endswith((".manifest", ".jsonl")):
        return location.uri
    return location.child(name).uri


# --- versions -----------------------------------------------------------------------------------


@transaction.atomic
def create_version(*, dataset: Dataset, created_by, name: str, description: str = "",
                   train_ratio=1, seed: int | None = None, stratified: bool = False) -> DatasetVersion:
    if DatasetVersion.objects.filter(dataset=dataset, name=name).exists():
        raise ValidationError({"name": f"The dataset already has a version named '{name}'; choose another name."})
    version = DatasetVersion(
        dataset=dataset, created_by=created_by, name=name, description=description, train_ratio=train_ratio,
        seed=seed, stratified=stratified,
    )
    version.manifest_uri = _manifest_location(dataset.output_uri, f"{dataset.id}/versions/{name}.manifest")
    version.full_clean()
    version.save()
    enqueue_on_commit(tasks.publish_version, str(version.pk))
    return version


def _splitter(version: DatasetVersion):
    """The split of a labelled sample without a usage, from its id: stratified (the EVAL samples
    of each label drawn first, in one pass over the unsplit samples), else drawn per sample."""
    ratio = float(version.train_ratio)
    if not version.stratified:
        return lambda sample_id: splits.hashed_split(sample_id, ratio, version.seed)
    unsplit = (Sample.objects.filter(dataset_id=version.dataset_id, usage=Sample.Usage.NONE)
               .exclude(annotations=[]).order_by("position").values_list("id", "annotations").iterator(chunk_size=2000))
    evaluation = splits.stratified_eval_ids(splits.grouped_ids(unsplit), train_ratio=ratio, seed=version.seed or 0)
    return lambda sample_id: "EVAL" if sample_id in evaluation else "TRAIN"


def publish_version(*, version_id) -> DatasetVersion | None:
    """Writes the version's manifest and statistics. Labelled samples without a usage are split
    into TRAIN and EVAL by the version's ratio. Safe to run twice: a published version stays, and
    one that a live worker is publishing is left to it."""
    version, lease = _claimed(DatasetVersion.objects.select_related("dataset__workspace"), pk=version_id,
                              kind="publish", active={DatasetVersion.Status.PUBLISHING})
    if lease is None:
        return version
    stats = Counter()
    counts = Counter()
    statistics = splits.Statistics()

    def samples():
        split = _splitter(version)
        for row in _rows(Sample.objects.filter(dataset_id=version.dataset_id)):
            lease.beat()
            counts["samples"] += 1
            usage = ""
            if row["annotations"]:
                counts["labelled"] += 1
                stats.update({a["name"] for a in row["annotations"]})
                usage = USAGE_TO_MANIFEST.get(row["usage"]) or split(row["id"])
                counts[usage] += 1
            statistics.add(metadata=row["metadata"], annotations=row["annotations"], split=usage)
            yield manifest_sample(row, usage)

    try:
        storage = locations.storage_at(workspace=version.dataset.workspace, uri=version.manifest_uri, write=True)
        storage.write(version.manifest_uri, write_manifest(samples()))
    except leases.LeaseLost:
        logger.warning("version %s was taken over by another worker; this one stops", version.pk)
        return version
    except StorageError as exc:
        version = transition(instance=version, to=DatasetVersion.Status.FAILED, error=str(exc))
    else:
        version = transition(
            instance=version, to=DatasetVersion.Status.READY, published_at=timezone.now(),
            sample_count=counts["samples"], labelled_count=counts["labelled"], train_count=counts["TRAIN"],
            eval_count=counts["EVAL"], label_stats=dict(sorted(stats.items())), statistics=statistics.as_dict(),
        )
    lease.release(outcome=version.status)
    return version


@transaction.atomic
def delete_version(*, version: DatasetVersion) -> None:
    """Deletes the version and, once that is committed, its manifest (the platform wrote it; the
    user's sources stay): a rolled-back delete keeps a version whose manifest is still there."""
    uri = version.manifest_uri
    workspace = version.dataset.workspace
    version.delete()
    transaction.on_commit(lambda: _delete_manifest(workspace=workspace, uri=uri))


def _delete_manifest(*, workspace, uri: str) -> None:
    try:
        locations.storage_at(workspace=workspace, uri=uri, write=True).delete(uri)
    except StorageError as exc:
        logger.warning("version manifest %s left in storage: %s", uri, exc)


# --- imports ------------------------------------------------------------------------------------


@transaction.atomic
def create_import_task(*, dataset: Dataset, created_by, kind: str, source_uri: str, options: dict | None = None,
                       new_labels: str = ImportTask.NewLabels.ADD) -> ImportTask:
    if source_uri:
        locations.check(workspace=dataset.workspace, uri=source_uri, field="source_uri")
    options = options or {}
    errors = formats.option_errors(kind, options, archive=archives.is_archive(source_uri))
    if errors:
        raise ValidationError(errors)
    accepted = formats.DATASET_TYPES.get(kind)
    if accepted and dataset.type not in accepted:
        raise ValidationError({"kind": f"A {kind} import fills a dataset of type {' or '.join(accepted)}; this "
                                       f"dataset is {dataset.type}."})
    if options.get("images_uri"):
        locations.check(workspace=dataset.workspace, uri=options["images_uri"], field="options.images_uri")
    task = ImportTask(dataset=dataset, created_by=created_by, kind=kind, source_uri=source_uri, options=options,
                      new_labels=new_labels)
    task.full_clean()
    task.save()
    enqueue_on_commit(tasks.run_import, str(task.pk))
    return task


def _import_items(storage, places: locations.WorkspaceLocations, task: ImportTask, dataset: Dataset,
                  source: formats.FormatSource | None) -> Iterator[tuple[int, ManifestSample | ManifestLineError]]:
    """What the source holds: (line, object or record number, sample or bad record), streamed. A
    prefix lists only objects the workspace may name (`data` also matches `data-theirs/…`)."""
    if source is not None:
        yield from source.items()
        return
    if task.kind == ImportTask.Kind.MANIFEST:
        yield from read_manifest(storage.read_lines(task.source_uri))
        return
    number = 0
    for item in storage.list(task.source_uri):
        if accepts_object(dataset.type, item.uri) and places.refusal(item.uri) is None:
            number += 1
            yield number, ManifestSample(source=item.uri, property={"size": item.size})


def _count_items(storage, places: locations.WorkspaceLocations, task: ImportTask, dataset: Dataset,
                 stop: threading.Event) -> int | None:
    """How many lines or objects there are, for progress; blank lines are left out at the end.
    Progress only: None when the count stops (`stop`) or the source cannot be read, which the
    import itself reports."""
    try:
        if task.kind in (ImportTask.Kind.MANIFEST, ImportTask.Kind.CSV):
            last = b"\n"
            lines = 0
            for chunk in storage.read_chunks(task.source_uri):
                if stop.is_set():
                    return None
                lines += chunk.count(b"\n")
                last = chunk[-1:] or last
            # A CSV's header is no record.
            return lines + (last != b"\n") - (task.kind == ImportTask.Kind.CSV)
        count = 0
        for item in storage.list(task.source_uri):
            if stop.is_set():
                return None
            count += accepts_object(dataset.type, item.uri) and places.refusal(item.uri) is None
        return count
    except StorageError:
        return None


def _sample_row(dataset: Dataset, places: locations.WorkspaceLocations, item: ManifestSample, now,
                created: str, label_names: set | None) -> tuple[dict | None, str | None]:
    """The fields of a new sample from a manifest line, or what is wrong with the line.
    `label_names` None lets the line's labels join the label set."""
    problem = _source_error(dataset, places, item.source)
    if problem:
        return None, f"source: {problem}"
    for index, annotation in enumerate(item.annotation):
        problem = annotation_error(dataset_type=dataset.type, annotation=annotation, metadata=item.property,
                                   label_names=label_names)
        if problem:
            return None, f"annotation {index}: {problem}"
        annotator = annotation.get("annotated-by", "")
        if not isinstance(annotator, str) or len(annotator) > ANNOTATOR_LENGTH:
            return None, f"annotation {index}: 'annotated-by' is a name of at most {ANNOTATOR_LENGTH} characters"
    annotations = [{"annotated-by": "", "creation-time": created, **a} for a in item.annotation]
    return {
        "dataset_id": str(dataset.pk), "source": item.source, "metadata": item.property, "annotations": annotations,
        "status": _status_for(annotations), "usage": USAGE_FROM_MANIFEST.get(item.usage, Sample.Usage.NONE),
        "annotated_by": annotations[-1]["annotated-by"] if annotations else "",
        "annotated_at": now if annotations else None, "created_at": now, "updated_at": now,
    }, None


@dataclass
class _ImportBatch:
    """A batch of items checked and ready to write: the new samples by source, each with its
    COPY text on PostgreSQL; the bad items; the repeats of a source within the batch."""

    size: int
    candidates: dict[str, tuple[dict, SampleText | None]]
    failures: list[ManifestLineError]
    repeats: int


def _import_batches(storage, places: locations.WorkspaceLocations, task: ImportTask, dataset: Dataset, *,
                    copy_text: bool, skip: int = 0, source: formats.FormatSource | None = None
                    ) -> Iterator[_ImportBatch]:
    """The source's items in batches, read and checked, after the first `skip` (those an earlier
    attempt wrote); this is what runs beside the writing of the batch before, so it touches no
    database."""
    items = islice(_import_items(storage, places, task, dataset, source), skip, None)
    label_names = dataset.label_names if task.new_labels == ImportTask.NewLabels.REFUSE else None
    while batch := list(islice(items, IMPORT_BATCH)):
        now = timezone.now()
        created = creation_time(now)
        prepared = _ImportBatch(size=len(batch), candidates={}, failures=[], repeats=0)
        for number, item in batch:
            if isinstance(item, ManifestLineError):
                prepared.failures.append(item)
                continue
            row, problem = _sample_row(dataset, places, item, now, created, label_names)
            if problem:
                prepared.failures.append(ManifestLineError(line=number, reason=problem))
            elif row["source"] in prepared.candidates:
                prepared.repeats += 1
            else:
                prepared.candidates[row["source"]] = (row, sample_text(row) if copy_text else None)
        yield prepared


def _import_batch(task: ImportTask, dataset: Dataset, batch: _ImportBatch, tally: Counter, new_labels: dict, *,
                  total: int | None, look_up: bool, lease: leases.Lease) -> bool:
    """Writes a batch in a transaction of its own and returns whether the batches after it must
    look their sources up first. Until one batch brings a source the dataset has, none looks:
    the dataset's unique (dataset, source) constraint refuses such a batch, which is then written
    again, looked up, and so is every batch after it (a re-run finds its sources at once)."""
    for failure in batch.failures:
        _report(task, tally, failure)
    try:
        rows, counts = _write_batch(task, dataset, batch, tally, total=total, look_up=look_up, lease=lease)
    except IntegrityError as exc:
        if look_up or getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != KNOWN_SOURCE:
            raise
        look_up = True
        rows, counts = _write_batch(task, dataset, batch, tally, total=total, look_up=look_up, lease=lease)
    tally.update(counts)
    for row in rows:
        for annotation in row["annotations"]:
            new_labels.setdefault(annotation["name"], None)
    return look_up


@transaction.atomic
def _write_batch(task: ImportTask, dataset: Dataset, batch: _ImportBatch, tally: Counter, *, total: int | None,
                 look_up: bool, lease: leases.Lease) -> tuple[list[dict], Counter]:
    if connection.vendor == "postgresql":
        # A batch lost in a crash is imported again by the retried task, so the commit need
        # not wait for the disk.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
    # Held until this batch commits: a worker taken for dead writes no batch after its task was
    # requeued, so the next attempt resumes exactly after the last batch and its counts.
    lease.beat(force=True)
    # The dataset lock serialises imports into one dataset, so no source is added twice.
    Dataset.objects.select_for_update().filter(pk=dataset.pk).values_list("pk").get()
    existing = selectors.existing_sources(dataset=dataset, sources=list(batch.candidates)) if look_up else set()
    fresh = [row for source, row in batch.candidates.items() if source not in existing]
    rows = [row for row, _ in fresh]
    insert_samples(rows, texts=[text for _, text in fresh] if connection.vendor == "postgresql" else None)
    counts = Counter(skipped=len(existing) + batch.repeats, added=len(fresh), processed=batch.size)
    done = tally + counts
    ImportTask.objects.filter(pk=task.pk).update(
        processed=done["processed"], added=done["added"], skipped=done["skipped"], failed=done["failed"],
        errors=task.errors, **({} if total is None else {"total": total}),
    )
    return rows, counts


def _report(task: ImportTask, tally: Counter, failure: ManifestLineError) -> None:
    tally["failed"] += 1
    if len(task.errors) < ImportTask.MAX_REPORTED_ERRORS:
        task.errors.append({"line": failure.line, "reason": failure.reason,
                            **({"path": failure.path} if failure.path else {})})


def run_import(*, task_id) -> ImportTask | None:
    """Imports samples from a prefix or a manifest in batches. Bad lines are reported and the
    rest imported; samples already in the dataset (same source) are skipped, so a re-run adds
    nothing twice. A task whose worker died resumes after the last batch written (each batch
    commits with the task's counts), so it ends with the counts of one uninterrupted run; one
    that a live worker runs is left to it. A location the platform cannot read fails the task."""
    with transaction.atomic():
        task, lease = _claimed(ImportTask.objects.select_related("dataset__workspace"), pk=task_id, kind="import",
                               active={TaskStatus.PENDING, TaskStatus.RUNNING})
        if lease is None:
            return task
        dataset = task.dataset
        resumed = task.status == TaskStatus.RUNNING
        task = transition(instance=task, to=TaskStatus.RUNNING, **({} if resumed else {"started_at": timezone.now()}))
        if resumed:
            lease.record("resumed", f"Resumed after item {task.processed:,} of the source, where an earlier attempt "
                                    f"stopped; {task.added:,} samples had been added.")
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.IMPORTING)
    tally = Counter({name: getattr(task, name) for name in ("processed", "added", "skipped", "failed")})
    # The labels that earlier attempts' samples brought join the label set at the end as well.
    new_labels = dict.fromkeys(_labels_in_use(dataset)) if resumed else {}
    # The source is counted, and the next batch read and checked, in threads while this batch is
    # written: the worker's Python and the database work at the same time.
    readers, stop = ThreadPoolExecutor(max_workers=2, thread_name_prefix="import-read"), threading.Event()
    try:
        # Resolved here: the readers' threads touch no database.
        places = locations.WorkspaceLocations(dataset.workspace).loaded()
        storage = places.storage_at(task.source_uri)
        if archives.is_archive(task.source_uri):
            task = _unpacked(task, storage, places)
            storage = places.storage_at(task.source_uri)
        task = _detected(task, storage, places)
        source = None
        if task.kind in formats.DATASET_TYPES:
            _check_format_fits(task, dataset)
            source = formats.open_source(kind=task.kind, storage=storage, uri=task.source_uri, options=task.options,
                                         dataset_type=dataset.type, admits=lambda uri: places.refusal(uri) is None)
        if source is None or task.kind == ImportTask.Kind.CSV:
            counting = readers.submit(_count_items, storage, places, task, dataset, stop)
        postgres = connection.vendor == "postgresql"
        batches = _import_batches(storage, places, task, dataset, copy_text=postgres, skip=task.processed,
                                  source=source)
        upcoming = readers.submit(next, batches, None)
        look_up = not postgres  # elsewhere no constraint error tells which one failed
        while (batch := _awaited(upcoming, lease)) is not None:
            upcoming = readers.submit(next, batches, None)
            if source is not None and task.kind != ImportTask.Kind.CSV:
                total = source.total  # known once the reader has read the file or listed the folder
            else:
                total = counting.result() if counting.done() else None
            look_up = _import_batch(task, dataset, batch, tally, new_labels, total=total, look_up=look_up,
                                    lease=lease)
    except leases.LeaseLost:
        logger.warning("import %s was taken over by another worker; this one stops", task.pk)
        return task
    except (StorageError, formats.SourceError) as exc:
        outcome = {"status": TaskStatus.FAILED, "error": str(exc)}
    except Exception:
        # Left RUNNING, the task would never end: acks_late redelivers a killed worker's task, not
        # one that raised. What was imported stays; a re-run adds the rest.
        logger.exception("import %s stopped", task.pk)
        try:
            _finish_import(task=task, dataset=dataset, tally=tally, new_labels=new_labels, status=TaskStatus.FAILED,
                           error="The import stopped on an unexpected error (in the worker's log); run it again "
                                 "to add the rest.")
            lease.release(outcome=TaskStatus.FAILED)
        except Exception:
            logger.exception("import %s could not be marked failed", task.pk)
        raise
    else:
        outcome = {"status": TaskStatus.SUCCEEDED, "total": tally["processed"]}
    finally:
        # An error does not wait for the count, nor for more than the batch being read.
        stop.set()
        readers.shutdown(wait=False, cancel_futures=True)
    task = _finish_import(task=task, dataset=dataset, tally=tally, new_labels=new_labels, **outcome)
    lease.release(outcome=task.status)
    return task


def _unpacked(task: ImportTask, storage, places: locations.WorkspaceLocations) -> ImportTask:
    """Unpacks an archive source into the workspace's own location (again on a resumed run: the
    same files land on the same keys) and points the task, in memory, at what is to be read there:
    its folder, or the file of a file format."""
    folder = locations.default_location(workspace=task.dataset.workspace, path=f"imports/{task.pk}/")
    written = archives.unpack(storage=storage, uri=task.source_uri, target=places.storage_at(folder, write=True),
                              target_uri=folder)
    task.source_uri = archives.member_for(task.kind, written, folder, task.options.get("member"))
    return task


def _detected(task: ImportTask, storage, places: locations.WorkspaceLocations) -> ImportTask:
    """The task with its kind told from the source when it was `auto` (recorded, so that a
    resumed run reads the source the same way)."""
    if task.kind != ImportTask.Kind.AUTO:
        return task
    kind = formats.detect(storage=storage, uri=task.source_uri, admits=lambda uri: places.refusal(uri) is None)
    ImportTask.objects.filter(pk=task.pk).update(kind=kind)
    task.kind = kind
    return task


def _check_format_fits(task: ImportTask, dataset: Dataset) -> None:
    accepted = formats.DATASET_TYPES[task.kind]
    if dataset.type not in accepted:
        raise formats.SourceError(f"The source is in {task.kind} format, which fills a dataset of type "
                                  f"{' or '.join(accepted)}; this dataset is {dataset.type}.")
    errors = formats.option_errors(task.kind, task.options, archive=True)  # members were checked at creation
    if errors:
        raise formats.SourceError(f"The options do not fit a {task.kind} import: {errors['options']}.")


def _awaited(future, lease: leases.Lease):
    """The future's result; the lease's heartbeat goes on while a slow source keeps it waiting."""
    while True:
        try:
            return future.result(timeout=settings.TASK_HEARTBEAT_SECONDS)
        except TimeoutError:
            lease.beat()


def _labels_in_use(dataset: Dataset) -> list[str]:
    return list(SampleLabel.objects.filter(dataset=dataset).values_list("name", flat=True).distinct())


def _finish_import(*, task: ImportTask, dataset: Dataset, tally: Counter, new_labels: dict, status: str,
                   **outcome) -> ImportTask:
    _add_labels(dataset=dataset, names=new_labels)
    refresh_counts(dataset=dataset)
    if tally["added"] >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # Fresh statistics let the planner page the new samples by index at once, rather than
        # after autovacuum notices them; only the columns the sample list filters and orders by.
        with connection.cursor() as cursor:
            cursor.execute(f'ANALYZE "{Sample._meta.db_table}" ({", ".join(ANALYZED_COLUMNS)}), '
                           f'"{SampleLabel._meta.db_table}"')
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.READY)
    return transition(
        instance=task, to=status, finished_at=timezone.now(), processed=tally["processed"], added=tally["added"],
        skipped=tally["skipped"], failed=tally["failed"], errors=task.errors, **outcome,
    )


@transaction.atomic
def _add_labels(*, dataset: Dataset, names) -> None:
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    missing = [name for name in names if name not in dataset.label_names]
    if missing:
        start = len(dataset.labels)
        dataset.labels = [
            *dataset.labels,
            *({"name": name, "color": default_colour(start + i), "attributes": []} for i, name in enumerate(missing)),
        ]
        dataset.save(update_fields=["labels", "updated_at"])


# --- exports ------------------------------------------------------------------------------------


@transaction.atomic
def create_export_task(*, dataset: Dataset, created_by, target_uri: str = "", version: DatasetVersion | None = None,
                       filters: dict | None = None, format: str = ExportTask.Format.MANIFEST) -> ExportTask:
    target_uri = target_uri or locations.default_location(workspace=dataset.workspace, path="exports/")
    locations.check(workspace=dataset.workspace, uri=target_uri, field="target_uri", write=True)
    accepted = formats.DATASET_TYPES.get(format)
    if accepted and dataset.type not in accepted:
        raise ValidationError({"format": f"The {format} format holds datasets of type {' or '.join(accepted)}; "
                                         f"this dataset is {dataset.type}."})
    if version is not None and version.dataset_id != dataset.pk:
        raise ValidationError({"version": "No such version in this dataset."})
    if version is not None and version.status != DatasetVersion.Status.READY:
        raise ValidationError({"version": f"The version is {version.status}; export a published version."})
    filters = filters or {}
    form = SampleFilter(data=filters, queryset=Sample.objects.none())
    if not form.is_valid():
        raise ValidationError({"filters": {field: " ".join(e) for field, e in form.errors.items()}})
    task = ExportTask(dataset=dataset, created_by=created_by, target_uri=target_uri, version=version, filters=filters,
                      format=format)
    task.full_clean()
    task.save()
    enqueue_on_commit(tasks.run_export, str(task.pk))
    return task


def _export_location(task: ExportTask) -> str:
    """The target itself when it names a file of the format; else a file named after the task under it."""
    extension = writers.EXTENSIONS[task.format]
    location = parse_uri(task.target_uri)
    if location.key.endswith(extension) or task.format == ExportTask.Format.MANIFEST and location.key.endswith(
            ".jsonl"):
        return location.uri
    return location.child(f"{task.dataset.name}-{task.pk}{extension}").uri


def run_export(*, task_id) -> ExportTask | None:
    """Writes a version, or the filtered samples, to the target in the task's format, streamed
    (the version's manifest as it is, for the manifest format). A task whose worker died is written
    again from the start; one a live worker runs is left to it."""
    with transaction.atomic():
        task, lease = _claimed(ExportTask.objects.select_related("dataset__workspace", "version"), pk=task_id,
                               kind="export", active={TaskStatus.PENDING, TaskStatus.RUNNING})
        if lease is None:
            return task
        started = {} if task.status == TaskStatus.RUNNING else {"started_at": timezone.now()}
        task = transition(instance=task, to=TaskStatus.RUNNING, **started)
    result_uri = _export_location(task)
    count = 0
    tally = writers.Tally()

    def counted(items):
        nonlocal count
        for item in items:
            lease.beat()
            count += 1
            yield item

    try:
        workspace = task.dataset.workspace
        if task.version is not None:
            source = task.version.manifest_uri
            lines = (line for line in locations.storage_at(workspace=workspace, uri=source).read_lines(source)
                     if line.strip())
            if task.format == ExportTask.Format.MANIFEST:
                chunks = (line + b"\n" for line in counted(lines))
            else:
                # The platform wrote the version's manifest; a line it cannot read is a fault, not input.
                samples = (item for _, item in read_manifest(lines) if not isinstance(item, ManifestLineError))
                chunks = writers.write(task.format, counted(samples), labels=_label_order(task.dataset),
                                       dataset_type=task.dataset.type, tally=tally)
        else:
            queryset = SampleFilter(data=task.filters, queryset=Sample.objects.filter(dataset=task.dataset)).qs
            chunks = writers.write(task.format, counted(manifest_sample(row) for row in _rows(queryset)),
                                   labels=_label_order(task.dataset), dataset_type=task.dataset.type, tally=tally)
        locations.storage_at(workspace=workspace, uri=result_uri, write=True).write(result_uri, chunks)
    except leases.LeaseLost:
        logger.warning("export %s was taken over by another worker; this one stops", task.pk)
        return task
    except StorageError as exc:
        task = transition(instance=task, to=TaskStatus.FAILED, error=str(exc), finished_at=timezone.now())
    else:
        task = transition(instance=task, to=TaskStatus.SUCCEEDED, result_uri=result_uri, sample_count=count,
                          incomplete_count=tally.partial, finished_at=timezone.now())
    lease.release(outcome=task.status)
    return task


def _label_order(dataset: Dataset) -> list[str]:
    """The label set's names in its order: COCO's category ids and YOLO's class indexes follow it."""
    return [label["name"] for label in Dataset.objects.values_list("labels", flat=True).get(pk=dataset.pk)]


# --- workers that died -------------------------------------------------------------------------
# Imports, exports and publications run under a lease (aiplatform.leases) whose heartbeat their
# worker renews; the reaper requeues those whose worker went silent.


def _lease_key(kind: str, pk) -> str:
    return f"datasets.{kind}:{pk}"


def _claimed(queryset, *, pk, kind: str, active: set):
    """(the task, locked while its lease is claimed; the lease, or None when the task is not to be
    run: gone, done, or held by a live worker)."""
    with transaction.atomic():
        task = queryset.select_for_update(of=("self",)).filter(pk=pk).first()
        if task is None or task.status not in active:
            return task, None
        return task, leases.claim(key=_lease_key(kind, task.pk))


@dataclass(frozen=True)
class _LeasedKind:
    name: str
    model: type
    running: str
    started_field: str | None  # when a run started (None: not recorded)
    task: object  # the Celery task that runs it


def _leased_kinds() -> tuple[_LeasedKind, ...]:
    return (
        _LeasedKind("import", ImportTask, TaskStatus.RUNNING, "started_at", tasks.run_import),
        _LeasedKind("export", ExportTask, TaskStatus.RUNNING, "started_at", tasks.run_export),
        _LeasedKind("publish", DatasetVersion, DatasetVersion.Status.PUBLISHING, None, tasks.publish_version),
        _LeasedKind("prelabel", PrelabelTask, TaskStatus.RUNNING, "started_at", tasks.run_prelabel),
    )


def reap_stalled_tasks(*, now=None) -> dict:
    """Requeues the imports, exports and publications whose worker has been silent for
    TASK_STALLED_AFTER_SECONDS (killed, or its machine gone): an import resumes after the last batch
    written. A task whose worker died in TASK_MAX_ATTEMPTS attempts fails instead. Each leaves an
    event on the task's lease saying what happened."""
    now = now or timezone.now()
    report = Counter(requeued=0, failed=0)
    for kind in _leased_kinds():
        running = kind.model.objects.filter(status=kind.running)
        if kind.started_field:
            started = {_lease_key(kind.name, pk): at for pk, at in running.values_list("pk", kind.started_field)}
        else:
            started = dict.fromkeys(_lease_key(kind.name, pk) for pk in running.values_list("pk", flat=True))
        for key in leases.stalled(started=started, now=now):
            outcome = _reap(kind, key=key, started=started[key], now=now)
            if outcome:
                report[outcome] += 1
    report["purged"] = leases.purge_finished(prefix="datasets.", now=now)
    return dict(report)


@transaction.atomic
def _reap(kind: _LeasedKind, *, key: str, started, now) -> str | None:
    lease = leases.silent(key=key, now=now, started=started)
    if lease is None:
        return None  # its worker spoke up, or another reaper got there first
    task = kind.model.objects.select_for_update().filter(pk=key.partition(":")[2]).first()
    if task is None or task.status != kind.running:
        return None
    silence = f"{lease.holder} was last heard of at {lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
    if lease.attempt >= settings.TASK_MAX_ATTEMPTS:
        message = f"Its worker stopped in each of {lease.attempt} attempts ({silence}); it is not tried again."
        leases.let_go(lease=lease, event="failed", message=message)
        _fail_stalled(kind, task, message=message, now=now)
        logger.warning("%s %s failed: %s", kind.name, task.pk, message)
        return "failed"
    message = (f"Requeued for attempt {lease.attempt + 1} of {settings.TASK_MAX_ATTEMPTS}: its worker stopped "
               f"({silence}).")
    leases.let_go(lease=lease, event="requeued", message=message)
    enqueue_on_commit(kind.task, str(task.pk))
    logger.warning("%s %s: %s", kind.name, task.pk, message)
    return "requeued"


def _fail_stalled(kind: _LeasedKind, task, *, message: str, now) -> None:
    if kind.model is DatasetVersion:
        transition(instance=task, to=DatasetVersion.Status.FAILED, error=message)
        return
    if kind.model is ImportTask:
        message += " What was imported stays (see the counts); import the same source again to add the rest."
        dataset = Dataset.objects.get(pk=task.dataset_id)
        _add_labels(dataset=dataset, names=_labels_in_use(dataset))
        refresh_counts(dataset=dataset)
        Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.READY)
    transition(instance=task, to=TaskStatus.FAILED, error=message, finished_at=now)


# --- annotation tasks ---------------------------------------------------------------------------

ITEM_BATCH = 5000


@transaction.atomic
def create_annotation_task(*, dataset: Dataset, created_by, name: str, assignees: list[str], description: str = "",
                           scope: str = AnnotationTask.Scope.UNLABELLED, filters: dict | None = None) -> AnnotationTask:
    """Creates the task and deals its samples out to the assignees in turn. Samples already in
    another active task's hands are left out, so no sample has two annotators at once."""
    if AnnotationTask.objects.filter(dataset=dataset, name=name).exists():
        raise ValidationError({"name": f"The dataset already has an annotation task named '{name}'."})
    users = _annotators(dataset, assignees)
    filters = filters or {}
    queryset = Sample.objects.filter(dataset=dataset)
    if scope == AnnotationTask.Scope.UNLABELLED:
        queryset = queryset.filter(annotations=[])
    elif scope == AnnotationTask.Scope.FILTER:
        form = SampleFilter(data=filters, queryset=queryset)
        if not filters or not form.is_valid():
            raise ValidationError({"filters": "Give valid sample filters (status, usage, label, annotated_by, "
                                              "source, prediction, confidence_below) for a task of scope 'filter'."})
        queryset = form.qs
    busy = AnnotationItem.objects.filter(
        task__dataset=dataset, task__status=AnnotationTask.Status.ACTIVE
    ).exclude(status=AnnotationItem.Status.ACCEPTED)
    queryset = queryset.exclude(pk__in=busy.values("sample_id"))
    task = AnnotationTask(dataset=dataset, created_by=created_by, name=name, description=description, scope=scope,
                          filters=filters)
    task.full_clean()
    task.save()
    task.assignees.set(users)
    ids = queryset.order_by("position").values_list("id", flat=True).iterator(chunk_size=ITEM_BATCH)
    position, now = 0, timezone.now()
    while chunk := list(islice(ids, ITEM_BATCH)):
        predicted = _best_predictions(chunk)
        items = []
        for i, sample_id in enumerate(chunk):
            assignee = users[(position + i) % len(users)]
            items.append(AnnotationItem(task=task, sample_id=sample_id, assignee=assignee, annotations=_prefilled(
                dataset, predicted.get(sample_id), annotator=assignee.username, now=now)))
        AnnotationItem.objects.bulk_create(items)
        position += len(chunk)
    AnnotationItem.objects.filter(task=task).update(position=F("id"))
    if position == 0:
        raise ValidationError({"scope": "No sample to annotate: the scope selects none, or they are all in "
                                        "other active tasks."})
    return task


def _best_predictions(sample_ids: list[int]) -> dict[int, Prediction]:
    """Each sample's most confident prediction waiting for review."""
    waiting = Prediction.objects.filter(sample_id__in=sample_ids, state=Prediction.State.PREDICTED)
    best = {}
    for prediction in waiting.order_by("sample_id", "-confidence", "id"):
        best.setdefault(prediction.sample_id, prediction)
    return best


def _prefilled(dataset: Dataset, prediction: Prediction | None, *, annotator: str, now) -> list:
    """An item's first annotations: the model's prediction, for its annotator to submit as it is
    (accepting it) or to correct."""
    if prediction is None:
        return []
    return [{"name": prediction.label, "type": ANNOTATION_TYPES[dataset.type][0],
             "confidence": prediction.confidence, "annotated-by": annotator, "creation-time": creation_time(now)}]


def _annotators(dataset: Dataset, usernames: list[str]) -> list:
    """The workspace members behind these usernames, who must hold a role that may annotate."""
    if not usernames:
        raise ValidationError({"assignees": "Name at least one annotator."})
    memberships = {
        m.user.username: m
        for m in Membership.objects.filter(workspace_id=dataset.workspace_id, user__username__in=usernames)
        .select_related("user")
    }
    errors = {}
    for index, username in enumerate(usernames):
        membership = memberships.get(username)
        if membership is None:
            errors[index] = f"'{username}' is not a member of this workspace."
        elif Capability.ANNOTATE not in ROLE_CAPABILITIES[membership.role]:
            errors[index] = f"'{username}' is a {membership.role}; give them the annotator role first."
    if errors:
        raise ValidationError({"assignees": errors})
    return [memberships[username].user for username in dict.fromkeys(usernames)]


@transaction.atomic
def delete_annotation_task(*, task: AnnotationTask) -> None:
    """Deletes the task; annotations not yet accepted are dropped, accepted ones stay on the samples."""
    under_task = AnnotationItem.objects.filter(task=task).exclude(status=AnnotationItem.Status.ACCEPTED)
    Sample.objects.filter(pk__in=under_task.values("sample_id")).update(
        status=Case(When(annotations=[], then=Value(Sample.Status.UNLABELLED)), default=Value(Sample.Status.LABELLED))
    )
    task.delete()


def _own_items(task: AnnotationTask, user, ids: list, field: str | None, statuses) -> dict[int, AnnotationItem]:
    """The caller's items of the task with these ids, in one of the statuses, locked. Errors name
    `items.<index>.<field>`, or `ids.<index>` when the body is a list of ids (no field)."""
    found = {
        item.pk: item
        for item in AnnotationItem.objects.select_for_update().select_related("sample")
        .filter(task=task, assignee=user, pk__in=[i for i in ids if isinstance(i, int)]).order_by("pk")
    }
    errors = {}
    for index, item_id in enumerate(ids):
        item = found.get(item_id)
        if item is None:
            errors[index] = f"No item {item_id!r} of this task is assigned to you."
        elif item.status not in statuses:
            errors[index] = f"Item {item_id} is {item.status}; only {' or '.join(statuses)} items can change."
    if errors:
        raise ValidationError({"ids": errors} if field is None else
                              {"items": {index: {field: error} for index, error in errors.items()}})
    return found


def _check_active(task: AnnotationTask) -> None:
    if task.status != AnnotationTask.Status.ACTIVE:
        raise IllegalTransition("The annotation task is completed.")


@transaction.atomic
def annotate_items(*, task: AnnotationTask, user, items: list[dict], submit: bool = False) -> list[AnnotationItem]:
    """Saves the caller's annotations on their own items (and submits them for review if asked).
    A rejected item can be annotated again and resubmitted."""
    _check_active(task)
    _check_batch(items, "items")
    editable = (AnnotationItem.Status.ASSIGNED, AnnotationItem.Status.REJECTED)
    found = _own_items(task, user, [item.get("id") for item in items], "id", editable)
    dataset = task.dataset
    now = timezone.now()
    errors = {}
    for index, given in enumerate(items):
        item = found[given["id"]]
        annotations, annotation_errors = stamped_annotations(
            dataset=dataset, annotations=given.get("annotations") or [], metadata=item.sample.metadata,
            annotator=user.username, now=now, label_names=dataset.label_names,
        )
        if annotation_errors:
            errors[index] = {"annotations": annotation_errors}
        elif submit and not annotations:
            errors[index] = {"annotations": "Annotate the sample before submitting it."}
        item.annotations = annotations
        item.annotated_at = now
        if submit:
            item.status = AnnotationItem.Status.SUBMITTED
    if errors:
        raise ValidationError({"items": errors})
    changed = list(found.values())
    AnnotationItem.objects.bulk_update(changed, ["annotations", "annotated_at", "status"])
    if submit:
        Sample.objects.filter(pk__in=[item.sample_id for item in changed]).update(
            status=Sample.Status.UNDER_REVIEW, updated_at=now
        )
    return changed


@transaction.atomic
def submit_items(*, task: AnnotationTask, user, ids: list) -> list[AnnotationItem]:
    """Submits the caller's annotated items for review."""
    _check_active(task)
    _check_batch(ids, "ids")
    editable = (AnnotationItem.Status.ASSIGNED, AnnotationItem.Status.REJECTED)
    found = _own_items(task, user, ids, None, editable)
    empty = {index: f"Item {item_id} has no annotations yet."
             for index, item_id in enumerate(ids) if not found[item_id].annotations}
    if empty:
        raise ValidationError({"ids": empty})
    now = timezone.now()
    AnnotationItem.objects.filter(pk__in=list(found)).update(status=AnnotationItem.Status.SUBMITTED)
    Sample.objects.filter(pk__in=[item.sample_id for item in found.values()]).update(
        status=Sample.Status.UNDER_REVIEW, updated_at=now
    )
    return list(AnnotationItem.objects.filter(pk__in=list(found)).select_related("sample", "assignee"))


@transaction.atomic
def review_items(*, task: AnnotationTask, reviewer, decisions: list[dict] = (),
                 accept_all_submitted: bool = False) -> list[AnnotationItem]:
    """Accepts or rejects submitted items. Accepted annotations land on the samples; rejected
    items go back to their annotator with the comment. The task completes when all is accepted."""
    _check_active(task)
    submitted = AnnotationItem.objects.select_for_update().select_related("sample").filter(
        task=task, status=AnnotationItem.Status.SUBMITTED
    ).order_by("pk")
    if accept_all_submitted:
        decisions = [{"id": item.pk, "result": AnnotationItem.Status.ACCEPTED} for item in submitted]
        found = {item.pk: item for item in submitted}
    else:
        _check_batch(list(decisions), "decisions")
        found = {item.pk: item for item in submitted.filter(pk__in=[d["id"] for d in decisions])}
        errors = {index: {"id": f"No submitted item {d['id']} in this task."}
                  for index, d in enumerate(decisions) if d["id"] not in found}
        errors.update({index: {"comment": "Say what is wrong, so the annotator can fix it."}
                       for index, d in enumerate(decisions)
                       if d["result"] == AnnotationItem.Status.REJECTED and not d.get("comment")})
        if errors:
            raise ValidationError({"decisions": errors})
    now = timezone.now()
    accepted_samples = []
    for decision in decisions:
        item = found[decision["id"]]
        item.status = decision["result"]
        item.review_comment = decision.get("comment", "")
        item.reviewed_by, item.reviewed_at = reviewer, now
        sample = item.sample
        if item.status == AnnotationItem.Status.ACCEPTED:
            sample.annotations = item.annotations
            sample.annotated_by = item.annotations[-1].get("annotated-by", "") if item.annotations else ""
            sample.annotated_at = item.annotated_at
            sample.status = Sample.Status.ACCEPTED
            accepted_samples.append(sample)
        else:
            sample.status = Sample.Status.REJECTED
        sample.updated_at = now
    items = list(found.values())
    AnnotationItem.objects.bulk_update(items, ["status", "review_comment", "reviewed_by", "reviewed_at"])
    Sample.objects.bulk_update(
        [item.sample for item in items], ["annotations", "annotated_by", "annotated_at", "status", "updated_at"]
    )
    _replace_labels(accepted_samples)
    _settle_predictions(accepted_samples, reviewer=reviewer, now=now)
    refresh_counts(dataset=task.dataset)
    if not AnnotationItem.objects.filter(task=task).exclude(status=AnnotationItem.Status.ACCEPTED).exists():
        transition(instance=task, to=AnnotationTask.Status.COMPLETED, completed_at=now)
    return items


def _settle_predictions(samples: list[Sample], *, reviewer, now) -> None:
    """The waiting predictions of samples whose labels a reviewer accepted: those that named an
    accepted label are accepted, the others rejected."""
    labels = {sample.pk: {a.get("name") for a in sample.annotations} for sample in samples}
    waiting = list(Prediction.objects.select_for_update().filter(sample_id__in=list(labels),
                                                                 state=Prediction.State.PREDICTED))
    for prediction in waiting:
        accepted = prediction.label in labels[prediction.sample_id]
        prediction.state = Prediction.State.ACCEPTED if accepted else Prediction.State.REJECTED
        prediction.reviewed_by, prediction.reviewed_at = reviewer, now
    Prediction.objects.bulk_update(waiting, ["state", "reviewed_by", "reviewed_at"])


def review_sample(*, task: AnnotationTask, percent: float, seed: int | None = None) -> list[AnnotationItem]:
    """A random share of the submitted items for a reviewer to spot-check before accepting all."""
    submitted = list(
        AnnotationItem.objects.filter(task=task, status=AnnotationItem.Status.SUBMITTED).values_list("pk", flat=True)
    )
    size = math.ceil(len(submitted) * percent / 100)
    picked = random.Random(seed).sample(submitted, size)
    return list(AnnotationItem.objects.filter(pk__in=picked).select_related("sample", "assignee"))


# --- pre-labelling ------------------------------------------------------------------------------

PRELABEL_TYPES = (DatasetType.TEXT_CLASSIFICATION,)


def _prelabel_service(dataset: Dataset, service_id, *, resolve: bool = False) -> prelabel.ServiceTarget:
    target = prelabel.find_service(workspace=dataset.workspace, service_id=service_id, resolve=resolve)
    if target is None:
        raise ValidationError({"service": f"No service {service_id} in this workspace; give one of its services."})
    return target


@transaction.atomic
def create_prelabel_task(*, dataset: Dataset, created_by, service, filters: dict | None = None,
                         min_confidence: float = 0.0, batch_size: int = 100) -> PrelabelTask:
    """Starts a model's pass over the samples the filters select (unlabelled ones by default)."""
    if dataset.type not in PRELABEL_TYPES:
        raise ValidationError({"service": f"Pre-labelling sends samples' texts to a classifier's /predict, for "
                                          f"{' or '.join(PRELABEL_TYPES)} datasets; this dataset is {dataset.type}."})
    target = _prelabel_service(dataset, service)
    if not target.running:
        raise ValidationError({"service": f"The service '{target.name}' is not running; start it, then pre-label."})
    filters = filters or {}
    form = SampleFilter(data=filters, queryset=Sample.objects.none())
    if not form.is_valid():
        raise ValidationError({"filters": {field: " ".join(e) for field, e in form.errors.items()}})
    task = PrelabelTask(dataset=dataset, created_by=created_by, service_id=service, service_name=target.name,
                        filters=filters, min_confidence=min_confidence, batch_size=batch_size)
    task.full_clean()
    task.save()
    enqueue_on_commit(tasks.run_prelabel, str(task.pk))
    return task


def _prelabel_candidates(task: PrelabelTask):
    """The samples the task sends: those its filters select, without a prediction of its service
    (a re-run, or a resumed run, sends none twice)."""
    queryset = Sample.objects.filter(dataset_id=task.dataset_id)
    queryset = SampleFilter(data=task.filters or {"status": Sample.Status.UNLABELLED}, queryset=queryset).qs
    predicted = Prediction.objects.filter(sample_id=OuterRef("pk"), service_id=task.service_id)
    return queryset.exclude(Exists(predicted))


def _sample_texts(places: locations.WorkspaceLocations, rows: list[dict]) -> list[str | None]:
    """Each sample's text: its metadata's `text`, an inline content:// source, or its object read
    from storage (up to prelabel.MAX_TEXT_BYTES); None when it cannot be read."""
    texts = []
    for row in rows:
        if isinstance(row["metadata"].get("text"), str):
            texts.append(row["metadata"]["text"])
        elif row["source"].startswith(INLINE_TEXT_SCHEME):
            texts.append(row["source"].removeprefix(INLINE_TEXT_SCHEME))
        else:
            try:
                data = b""
                for chunk in places.storage_at(row["source"]).read_chunks(row["source"]):
                    data += chunk
                    if len(data) >= prelabel.MAX_TEXT_BYTES:
                        break
                texts.append(data[:prelabel.MAX_TEXT_BYTES].decode("utf-8", errors="replace"))
            except StorageError:
                texts.append(None)
    return texts


def run_prelabel(*, task_id) -> PrelabelTask | None:
    """Sends the task's samples to its service in batches and keeps the confident answers as
    predictions (never touching the samples' own annotations). Each batch commits with the
    task's counts; a run whose worker died resumes with the samples still without a prediction."""
    with transaction.atomic():
        task, lease = _claimed(PrelabelTask.objects.select_related("dataset__workspace"), pk=task_id,
                               kind="prelabel", active={TaskStatus.PENDING, TaskStatus.RUNNING})
        if lease is None:
            return task
        resumed = task.status == TaskStatus.RUNNING
        task = transition(instance=task, to=TaskStatus.RUNNING, **({} if resumed else {"started_at": timezone.now()}))
    dataset = task.dataset
    tally = Counter({name: getattr(task, name) for name in ("processed", "predicted", "below_threshold", "failed")})
    try:
        target = prelabel.find_service(workspace=dataset.workspace, service_id=task.service_id, resolve=True)
        if target is None or not target.running or not target.urls:
            outcome = {"status": TaskStatus.FAILED,
                       "error": f"The service '{task.service_name}' is gone or not running; start it and pre-label "
                                f"again (samples predicted so far keep their predictions)."}
        else:
            outcome = _prelabel_batches(task, dataset, target, tally, lease, resumed=resumed)
    except leases.LeaseLost:
        logger.warning("pre-labelling %s was taken over by another worker; this one stops", task.pk)
        return task
    except Exception:
        logger.exception("pre-labelling %s stopped", task.pk)
        task = transition(instance=task, to=TaskStatus.FAILED, finished_at=timezone.now(),
                          error="Pre-labelling stopped on an unexpected error (in the worker's log); run it again to "
                                "predict the rest.")
        lease.release(outcome=TaskStatus.FAILED)
        raise
    task = transition(instance=task, to=outcome.pop("status"), finished_at=timezone.now(), **outcome)
    lease.release(outcome=task.status)
    return task


def _prelabel_batches(task: PrelabelTask, dataset: Dataset, target, tally: Counter, lease, *, resumed: bool) -> dict:
    candidates = _prelabel_candidates(task).order_by("position")
    if not resumed:
        PrelabelTask.objects.filter(pk=task.pk).update(total=candidates.count())
    places = locations.WorkspaceLocations(dataset.workspace).loaded()
    label_names = dataset.label_names
    position = 0
    while rows := list(candidates.filter(position__gt=position).values("id", "source", "metadata", "position")
                       [:task.batch_size]):
        position = rows[-1]["position"]
        texts = _sample_texts(places, rows)
        asked = [(row, text) for row, text in zip(rows, texts, strict=True) if text is not None]
        answers = prelabel.predict_all(target.urls, [text for _, text in asked])
        unread = [(row, prelabel.Answer(error="The sample's text could not be read from storage."))
                  for row, text in zip(rows, texts, strict=True) if text is None]
        sorted_ = prelabel.sort_answers([*zip((row for row, _ in asked), answers, strict=True), *unread],
                                        min_confidence=task.min_confidence, label_names=label_names)
        _write_predictions(task, dataset, sorted_, tally)
        lease.beat()
        if asked and all(answer.error for answer in answers):
            return {"status": TaskStatus.FAILED,
                    "error": f"The service '{task.service_name}' answered none of a batch of {len(asked)} samples "
                             f"({answers[0].error}); run the task again once it answers."}
    return {"status": TaskStatus.SUCCEEDED}


@transaction.atomic
def _write_predictions(task: PrelabelTask, dataset: Dataset, sorted_: prelabel.Sorted, tally: Counter) -> None:
    Prediction.objects.bulk_create([
        Prediction(dataset=dataset, sample_id=row["id"], task=task, service_id=task.service_id, label=answer.label,
                   confidence=answer.confidence)
        for row, answer in sorted_.kept
    ], ignore_conflicts=True)  # a sample another run of the same service predicted meanwhile keeps that one
    errors = [{"sample": row["id"], "source": row["source"], "reason": answer.error} for row, answer in sorted_.failed]
    errors += [{"sample": row["id"], "source": row["source"],
                "reason": f"The service answered '{answer.label}', which is not in the dataset's label set; add it "
                          f"and pre-label again."} for row, answer in sorted_.unknown_label]
    tally.update(processed=len(sorted_.kept) + len(sorted_.below) + len(errors), predicted=len(sorted_.kept),
                 below_threshold=len(sorted_.below), failed=len(errors))
    locked = PrelabelTask.objects.select_for_update().get(pk=task.pk)
    locked.errors = (locked.errors + errors)[:PrelabelTask.MAX_REPORTED_ERRORS]
    for name in ("processed", "predicted", "below_threshold", "failed"):
        setattr(locked, name, tally[name])
    locked.save(update_fields=["errors", "processed", "predicted", "below_threshold", "failed"])


def _accept_predictions(dataset: Dataset, predictions: list[Prediction], reviewer, now) -> None:
    """The predictions become their samples' labels, annotated by the reviewer."""
    kind = ANNOTATION_TYPES[dataset.type][0]
    samples = []
    for prediction in predictions:
        sample = prediction.sample
        sample.annotations = [{"name": prediction.label, "type": kind, "confidence": prediction.confidence,
                               "annotated-by": reviewer.username, "creation-time": creation_time(now)}]
        sample.status = Sample.Status.ACCEPTED
        sample.annotated_by, sample.annotated_at, sample.updated_at = reviewer.username, now, now
        samples.append(sample)
    Sample.objects.bulk_update(samples, ["annotations", "status", "annotated_by", "annotated_at", "updated_at"])
    _replace_labels(samples)


def _decide(dataset: Dataset, predictions: list[Prediction], decisions: list[str], reviewer) -> None:
    now = timezone.now()
    for prediction, decision in zip(predictions, decisions, strict=True):
        prediction.state, prediction.reviewed_by, prediction.reviewed_at = decision, reviewer, now
    Prediction.objects.bulk_update(predictions, ["state", "reviewed_by", "reviewed_at"])
    _accept_predictions(dataset, [p for p in predictions if p.state == Prediction.State.ACCEPTED], reviewer, now)
    refresh_counts(dataset=dataset)


def _human_label(prediction: Prediction) -> str | None:
    sample = prediction.sample
    if sample.annotations:
        return (f"Sample {sample.pk} was labelled by {sample.annotated_by or 'someone'} meanwhile; reject the "
                f"prediction or relabel the sample.")
    return None


@transaction.atomic
def review_predictions(*, dataset: Dataset, reviewer, decisions: list[dict]) -> list[Prediction]:
    """Accepts or rejects predictions one by one, all or none. An accepted prediction becomes its
    sample's label; one whose sample a person labelled meanwhile cannot be accepted."""
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    _check_batch(decisions, "decisions")
    ids = [d["id"] for d in decisions]
    found = {p.pk: p for p in Prediction.objects.select_for_update(of=("self", "sample")).select_related("sample")
             .filter(dataset=dataset, pk__in=ids).order_by("pk")}
    errors, accepting = {}, set()
    for index, decision in enumerate(decisions):
        prediction = found.get(decision["id"])
        if prediction is not None and decision["decision"] == Prediction.State.ACCEPTED:
            if prediction.sample_id in accepting:
                errors[index] = {"id": f"Another accepted prediction is for sample {prediction.sample_id}; accept "
                                       f"one per sample."}
                continue
            accepting.add(prediction.sample_id)
        if prediction is None:
            errors[index] = {"id": f"No prediction {decision['id']} in this dataset."}
        elif prediction.state != Prediction.State.PREDICTED:
            errors[index] = {"id": f"Prediction {prediction.pk} was {prediction.state} already."}
        elif decision["decision"] == Prediction.State.ACCEPTED and (problem := _human_label(prediction)):
            errors[index] = {"decision": problem}
    if len(set(ids)) != len(ids):
        errors.setdefault(0, {"id": "Give each prediction once."})
    if errors:
        raise ValidationError({"decisions": errors})
    predictions = [found[i] for i in ids]
    _decide(dataset, predictions, [d["decision"] for d in decisions], reviewer)
    return predictions


def review_predictions_by_confidence(*, dataset: Dataset, reviewer, decision: str, min_confidence=None,
                                     confidence_below=None, task=None) -> dict:
    """Accepts the waiting predictions at or above `min_confidence`, or rejects those below
    `confidence_below` (of one pre-labelling task, if given), a batch per transaction. Predictions
    whose sample a person labelled meanwhile are left waiting and counted as `skipped`."""
    waiting = Prediction.objects.filter(dataset=dataset, state=Prediction.State.PREDICTED)
    if task is not None:
        waiting = waiting.filter(task=task)
    if decision == Prediction.State.ACCEPTED:
        waiting = waiting.filter(confidence__gte=min_confidence)
    else:
        waiting = waiting.filter(confidence__lt=confidence_below)
    decision = Prediction.State(decision).value  # a plain str: the counts' key goes out as JSON
    counts = Counter({decision: 0, "skipped": 0})
    last = 0
    while True:
        with transaction.atomic():
            locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
            batch = list(waiting.filter(pk__gt=last).select_for_update(of=("self", "sample")).select_related("sample")
                         .order_by("pk")[:MAX_BATCH])
            if not batch:
                break
            last = batch[-1].pk
            if decision == Prediction.State.ACCEPTED:
                # One prediction per sample: a second one of another service for the same sample waits.
                seen, kept = set(), []
                for prediction in batch:
                    if _human_label(prediction) is None and prediction.sample_id not in seen:
                        seen.add(prediction.sample_id)
                        kept.append(prediction)
                counts["skipped"] += len(batch) - len(kept)
                batch = kept
            _decide(locked, batch, [decision] * len(batch), reviewer)
            counts[decision] += len(batch)
    return dict(counts)
