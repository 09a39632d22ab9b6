"""Datasets, their samples and labels, published versions, and import/export tasks."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from aiplatform.models import Workspace
from aiplatform.storage import StorageError, parse_uri

from .domain import DatasetType


def validate_storage_uri(value):
    try:
        parse_uri(value)
    except StorageError as exc:
        raise ValidationError(str(exc)) from None


class DatasetStatus(models.TextChoices):
    READY = "ready"
    IMPORTING = "importing"


class SampleStatus(models.TextChoices):
    UNLABELLED = "unlabelled"
    LABELLED = "labelled"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class VersionStatus(models.TextChoices):
    PUBLISHING = "publishing"
    READY = "ready"
    FAILED = "failed"


class Dataset(models.Model):
    Status = DatasetStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    type = models.CharField(max_length=32, choices=DatasetType.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    input_uri = models.CharField(
        max_length=1024, blank=True, default="", validators=[validate_storage_uri],
        help_text="Where the source objects are (read only; the platform never deletes them).",
    )
    output_uri = models.CharField(
        max_length=1024, validators=[validate_storage_uri],
        help_text="The work location: published version manifests are written here.",
    )
    labels = models.JSONField(default=list, blank=True, help_text="The label set: name, color, attributes.")
    sample_count = models.PositiveIntegerField(default=0)
    labelled_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="dataset_name_unique_per_workspace")]

    def __str__(self):
        return self.name

    @property
    def unlabelled_count(self) -> int:
        return self.sample_count - self.labelled_count

    @property
    def label_names(self) -> set[str]:
        return {label["name"] for label in self.labels}


class Sample(models.Model):
    Status = SampleStatus

    class Usage(models.TextChoices):
        TRAIN = "train"
        EVAL = "eval"
        INFERENCE = "inference"
        NONE = "none"

    id = models.BigAutoField(primary_key=True)
    # Indexed by the indexes below, which all lead with the dataset.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="samples", db_index=False)
    # The sample's place in its dataset's pages: its id, copied into a column that only the
    # (dataset, position) indexes order. Ordered by id, PostgreSQL walks the primary key through
    # every other dataset's samples.
    position = models.BigIntegerField(default=0, editable=False)
    source = models.CharField(max_length=1024)
    metadata = models.JSONField(default=dict, blank=True, help_text="Type-specific facts: size, width, height, text.")
    annotations = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNLABELLED)
    usage = models.CharField(max_length=16, choices=Usage.choices, default=Usage.NONE)
    annotated_by = models.CharField(max_length=150, blank=True, default="")
    annotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["dataset", "source"], name="sample_source_unique_per_dataset")]
        # Cursor pages walk a dataset's samples by position (within a status when filtered by it);
        # few indexes keep imports fast, and other filters scan the positions of one dataset.
        indexes = [
            models.Index(fields=["dataset", "position"], name="sample_dataset_position"),
            models.Index(fields=["dataset", "status", "position"], name="sample_dataset_status"),
        ]

    def __str__(self):
        return self.source

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if not self.position:
            self.position = self.pk
            Sample.objects.filter(pk=self.pk).update(position=self.pk)


class SampleLabel(models.Model):
    """One label a sample carries, kept beside its annotations to filter and count by label.

    Services write these rows with their samples and delete a sample's rows before the sample;
    they carry no database foreign keys, because checking two keys per row at commit doubled the
    cost of an import. Deleting a dataset (or its workspace) deletes them with one statement by
    dataset, through the ORM's cascade, before the samples go."""

    sample = models.ForeignKey(Sample, on_delete=models.DO_NOTHING, related_name="label_rows", db_constraint=False)
    # Indexed by samplelabel_dataset_name, which leads with the dataset.
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    name = models.CharField(max_length=100)

    class Meta:
        indexes = [models.Index(fields=["dataset", "name", "sample"], name="samplelabel_dataset_name")]

    def __str__(self):
        return self.name


class DatasetVersion(models.Model):
    """An immutable snapshot of a dataset, published as a manifest in its output location."""

    Status = VersionStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    train_ratio = models.DecimalField(
        max_digits=3, decimal_places=2, default=1,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of samples without a usage that the version marks TRAIN; the rest EVAL.",
    )
    seed = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(2 ** 31 - 1)],
        help_text="Draws the split from this seed (the same seed, the same split); empty: a split fixed per sample.",
    )
    stratified = models.BooleanField(
        default=False, help_text="Splits each label's samples (by their first label) in the ratio.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PUBLISHING)
    sample_count = models.PositiveIntegerField(default=0)
    labelled_count = models.PositiveIntegerField(default=0)
    train_count = models.PositiveIntegerField(default=0)
    eval_count = models.PositiveIntegerField(default=0)
    label_stats = models.JSONField(default=dict, blank=True, help_text="Samples per label.")
    statistics = models.JSONField(
        default=dict, blank=True,
        help_text="Per split and per label and split, boxes per image, image size ranges, annotations per annotator.")
    manifest_uri = models.CharField(max_length=1024, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    TRANSITIONS = {Status.PUBLISHING: {Status.READY, Status.FAILED}}

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="version_name_unique_per_dataset")]

    def __str__(self):
        return f"{self.dataset} {self.name}"


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# A redelivered task (its worker died) runs again from the start: RUNNING -> RUNNING.
TASK_TRANSITIONS = {
    TaskStatus.PENDING: {TaskStatus.RUNNING, TaskStatus.FAILED},
    TaskStatus.RUNNING: {TaskStatus.RUNNING, TaskStatus.SUCCEEDED, TaskStatus.FAILED},
}


class DatasetTask(models.Model):
    """What import and export tasks share: who started them, when, and their status rules."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    TRANSITIONS = TASK_TRANSITIONS

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class ImportTask(DatasetTask):
    class Kind(models.TextChoices):
        PREFIX = "prefix", "Every object under a prefix"
        MANIFEST = "manifest", "A manifest file"
        COCO = "coco", "A COCO detection JSON file"
        VOC = "voc", "A folder of Pascal VOC XML files"
        YOLO = "yolo", "A YOLO folder: classes.txt or data.yaml, and a label file per image"
        LABEL_STUDIO = "label_studio", "A Label Studio JSON export"
        CSV = "csv", "A CSV or TSV file of texts and their labels"
        AUTO = "auto", "Detected from the source when the import runs"

    class NewLabels(models.TextChoices):
        ADD = "add", "Labels the source brings join the dataset's label set"
        REFUSE = "refuse", "A record with a label outside the label set is a bad record"

    MAX_REPORTED_ERRORS = 1000

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="import_tasks")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source_uri = models.CharField(max_length=1024, validators=[validate_storage_uri])
    options = models.JSONField(default=dict, blank=True, help_text="Format options, e.g. images_uri, text_column.")
    new_labels = models.CharField(max_length=8, choices=NewLabels.choices, default=NewLabels.ADD)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Lines or objects to process, once known.")
    processed = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Samples already in the dataset (same source).")
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Bad records: [{line, reason, path}].")
    error = models.TextField(blank=True, default="", help_text="Why the whole import failed.")

    def __str__(self):
        return f"import {self.source_uri}"


class ExportTask(DatasetTask):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="export_tasks")
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="export_tasks"
    )
    class Format(models.TextChoices):
        MANIFEST = "manifest", "The platform's manifest (JSON lines)"
        COCO = "coco", "COCO detection JSON"
        VOC = "voc", "Pascal VOC XML files, in a tar archive"
        YOLO = "yolo", "YOLO label files, data.yaml and images.txt, in a tar archive"
        LABEL_STUDIO = "label_studio", "Label Studio JSON export"
        CSV = "csv", "CSV of texts and labels"

    filters = models.JSONField(default=dict, blank=True, help_text="Sample filters when no version is given.")
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.MANIFEST)
    target_uri = models.CharField(max_length=1024, validators=[validate_storage_uri])
    sample_count = models.PositiveIntegerField(default=0)
    incomplete_count = models.PositiveIntegerField(
        default=0, help_text="Samples written without what the format cannot express (a box on an image of "
                             "unknown size, in YOLO or Label Studio).")
    result_uri = models.CharField(max_length=1024, blank=True, default="")
    error = models.TextField(blank=True, default="")

    def __str__(self):
        return f"export to {self.target_uri}"


class AnnotationTaskStatus(models.TextChoices):
    ACTIVE = "active"
    COMPLETED = "completed"


class AnnotationItemStatus(models.TextChoices):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class AnnotationTask(models.Model):
    """Team labelling of some of a dataset's samples, shared out among annotators and reviewed.
    Annotations made in the task reach the samples when a reviewer accepts them."""

    Status = AnnotationTaskStatus

    class Scope(models.TextChoices):
        ALL = "all", "Every sample"
        UNLABELLED = "unlabelled", "Samples without annotations"
        FILTER = "filter", "Samples the filters select"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="annotation_tasks")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.UNLABELLED)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="annotation_tasks")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    TRANSITIONS = {Status.ACTIVE: {Status.COMPLETED}}

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="annotation_task_name_unique_per_dataset")
        ]

    def __str__(self):
        return self.name


class AnnotationItem(models.Model):
    """One sample of a task, in the hands of one annotator."""

    Status = AnnotationItemStatus

    id = models.BigAutoField(primary_key=True)
    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="items")
    # DO_NOTHING keeps samples deletable in one statement; services delete their items first.
    sample = models.ForeignKey(Sample, on_delete=models.DO_NOTHING, related_name="annotation_items")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The item's place in its task's pages: its id, in a column only the task's indexes order
    # (as for samples, ordering by id would walk the primary key through other tasks' items).
    position = models.BigIntegerField(default=0, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSIGNED)
    annotations = models.JSONField(default=list, blank=True)
    annotated_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["task", "sample"], name="annotation_item_unique_sample")]
        indexes = [
            models.Index(fields=["task", "position"], name="annotation_item_task"),
            models.Index(fields=["task", "assignee", "position"], name="annotation_item_worklist"),
        ]

    def __str__(self):
        return f"{self.task} #{self.sample_id}"


class PrelabelTask(DatasetTask):
    """A model's first pass over some of a dataset's samples: a running service of the workspace
    is sent their texts in batches, and its answers are kept as predictions for review."""

    MAX_REPORTED_ERRORS = 1000

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="prelabel_tasks")
    # The service is inference's (above datasets): kept by id and name, found through
    # datasets.prelabel's registered look-up.
    service_id = models.UUIDField()
    service_name = models.CharField(max_length=63)
    filters = models.JSONField(default=dict, blank=True, help_text="Sample filters; empty: unlabelled samples.")
    min_confidence = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Answers less confident than this are not kept.")
    batch_size = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Samples to send, counted at the start.")
    processed = models.PositiveIntegerField(default=0)
    predicted = models.PositiveIntegerField(default=0, help_text="Predictions kept.")
    below_threshold = models.PositiveIntegerField(default=0, help_text="Answers under min_confidence, not kept.")
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Samples without a prediction: [{sample, reason}].")
    error = models.TextField(blank=True, default="", help_text="Why the whole task failed.")

    def __str__(self):
        return f"pre-labelling by {self.service_name}"


class PredictionState(models.TextChoices):
    PREDICTED = "predicted", "Waiting for review"
    ACCEPTED = "accepted", "Accepted: the sample carries it as a label"
    REJECTED = "rejected", "Rejected by a reviewer"


class Prediction(models.Model):
    """A label a model proposed for a sample, kept apart from the sample's annotations until a
    reviewer accepts it; versions publish only the annotations."""

    State = PredictionState

    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="predictions", db_index=False)
    task = models.ForeignKey(PrelabelTask, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="predictions")
    service_id = models.UUIDField()
    label = models.CharField(max_length=100)
    confidence = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    state = models.CharField(max_length=16, choices=State.choices, default=State.PREDICTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        # One prediction per sample and service: a re-run keeps what is there.
        constraints = [models.UniqueConstraint(fields=["sample", "service_id"], name="prediction_unique_per_service")]
        indexes = [models.Index(fields=["dataset", "state", "confidence"], name="prediction_dataset_state")]

    def __str__(self):
        return f"{self.label} ({self.confidence:.2f})"
