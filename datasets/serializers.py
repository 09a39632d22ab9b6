from datetime import UTC

import orjson
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aiplatform import locations
from aiplatform.models import TaskLease

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
)


def _datetime(value):
    """As DRF writes a UTC time: ISO 8601 ending in Z."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# A download link, or null while there is nothing to download (or the caller may not).
NULLABLE_URI = serializers.URLField(allow_null=True)


def download_url(serializer, uri: str) -> str | None:
    """A download link for the caller of the view that serializes (bound to its workspace)."""
    context = serializer.context
    workspace, request = getattr(context.get("view"), "workspace", None), context.get("request")
    if not uri or workspace is None or request is None:
        return None
    if "locations" not in context:  # one read of the workspace's locations for a whole page
        context["locations"] = locations.WorkspaceLocations(workspace)
    return context["locations"].download_url(user=request.user, uri=uri)


class RunHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    event = serializers.CharField(help_text="started, resumed, requeued, restarted, finished, …")
    message = serializers.CharField()


class RunHistoryMixin(serializers.Serializer):
    """`attempts` and `history` of a background task from its lease (aiplatform.leases): which run
    of it this is and what happened, e.g. a worker killed mid-import and the import resumed. A page
    reads the leases of all its tasks in one query."""

    lease_kind = ""
    attempts = serializers.SerializerMethodField(help_text="Runs started so far (over 1: a worker died and the "
                                                           "task was run again).")
    history = serializers.SerializerMethodField()

    def _lease(self, obj):
        context = self.context
        if "leases" not in context:
            page = self.parent.instance if isinstance(self.parent, serializers.ListSerializer) else [obj]
            context["leases"] = TaskLease.objects.in_bulk([f"datasets.{self.lease_kind}:{o.pk}" for o in page])
        return context["leases"].get(f"datasets.{self.lease_kind}:{obj.pk}")

    def get_attempts(self, obj) -> int:
        lease = self._lease(obj)
        return lease.attempt if lease else 0

    @extend_schema_field(RunHistorySerializer(many=True))
    def get_history(self, obj):
        lease = self._lease(obj)
        return lease.events if lease else []


# --- datasets -----------------------------------------------------------------------------------


class LabelAttributeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=["boolean", "text", "number", "choice"], default="text")
    values = serializers.ListField(child=serializers.CharField(), required=False, help_text="For choice attributes.")


class LabelSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, help_text="#rrggbb; assigned when omitted.")
    attributes = LabelAttributeSerializer(many=True, required=False)


class DatasetSerializer(serializers.ModelSerializer):
    labels = LabelSerializer(many=True, required=False)
    unlabelled_count = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = Dataset
        fields = [
            "id", "name", "description", "type", "status", "input_uri", "output_uri", "labels",
            "sample_count", "labelled_count", "unlabelled_count", "created_by", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "status", "sample_count", "labelled_count", "created_at", "updated_at"]
        extra_kwargs = {"output_uri": {"required": False, "help_text": "Where versions and exports are written; "
                                       "defaults to the workspace's own location (its datasets/ folder)."}}
        # Uniqueness per workspace is checked by the service, which names the clash.
        validators = []


# --- samples ------------------------------------------------------------------------------------


class BoxSerializer(serializers.Serializer):
    xmin = serializers.FloatField()
    ymin = serializers.FloatField()
    xmax = serializers.FloatField()
    ymax = serializers.FloatField()


class AnnotationSerializer(serializers.Serializer):
    """One label on a sample, in the manifest's form."""

    name = serializers.CharField(max_length=100, help_text="A label of the dataset's label set.")
    type = serializers.CharField(
        required=False, help_text="e.g. modelarts/image_classification; defaults to the dataset type's own."
    )
    box = BoxSerializer(required=False, help_text="Object detection: the bounding box in pixels.")
    property = serializers.DictField(
        required=False,
        help_text="Type-specific content, e.g. @modelarts:start_index/@modelarts:end_index of a text entity.",
    )
    confidence = serializers.FloatField(required=False, min_value=0, max_value=1)


SAMPLE_FIELDS = (
    "id", "source", "metadata", "annotations", "status", "usage", "annotated_by", "annotated_at", "created_at",
    "updated_at",
)


class SampleSerializer(serializers.ModelSerializer):
    annotations = serializers.SerializerMethodField()

    class Meta:
        model = Sample
        fields = list(SAMPLE_FIELDS)
        read_only_fields = fields

    @extend_schema_field(
        {"type": "array", "items": {"type": "object", "additionalProperties": True},
         "description": "name, type, box/property, annotated-by, creation-time, confidence"}
    )
    def get_annotations(self, sample) -> list:
        return sample.annotations

    def to_representation(self, sample):
        # Written out: batches of up to 1,000 samples, several times faster than field by field.
        return {
            "id": sample.id, "source": sample.source, "metadata": sample.metadata, "annotations": sample.annotations,
            "status": sample.status, "usage": sample.usage, "annotated_by": sample.annotated_by,
            "annotated_at": _datetime(sample.annotated_at), "created_at": _datetime(sample.created_at),
            "updated_at": _datetime(sample.updated_at),
        }


def sample_row(row: dict) -> dict:
    """A row of `selectors.sample_rows` as SampleSerializer shows the sample, for list pages of up
    to 1,000: the JSON goes out as stored (an orjson.Fragment is written verbatim) and the times
    as datetimes, which the orjson renderer writes as _datetime does (UTC, ending in Z)."""
    return {
        "id": row["id"], "source": row["source"], "metadata": orjson.Fragment(row["metadata_json"]),
        "annotations": orjson.Fragment(row["annotations_json"]), "status": row["status"], "usage": row["usage"],
        "annotated_by": row["annotated_by"], "annotated_at": row["annotated_at"], "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class SampleInputSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=1024, help_text="s3://, obs://, file:// URI, or content://text")
    metadata = serializers.DictField(required=False, help_text="size, width, height, text, …")
    usage = serializers.ChoiceField(choices=Sample.Usage.choices, required=False)
    annotations = AnnotationSerializer(many=True, required=False)


class SampleBatchCreateSerializer(serializers.Serializer):
    samples = SampleInputSerializer(many=True, min_length=1, max_length=1000)


class SampleBatchDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)


class SampleAnnotationItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    annotations = AnnotationSerializer(many=True, help_text="Replaces the sample's annotations; [] clears them.")
    usage = serializers.ChoiceField(choices=Sample.Usage.choices, required=False)


class SampleBatchAnnotateSerializer(serializers.Serializer):
    items = SampleAnnotationItemSerializer(many=True, min_length=1, max_length=1000)


class SampleBatchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    samples = SampleSerializer(many=True, required=False)


# --- versions, imports, exports -----------------------------------------------------------------


class DatasetVersionSerializer(RunHistoryMixin, serializers.ModelSerializer):
    lease_kind = "publish"
    manifest_url = serializers.SerializerMethodField(help_text="Presigned download link of the manifest.")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = DatasetVersion
        fields = [
            "id", "name", "description", "train_ratio", "seed", "stratified", "status", "sample_count",
            "labelled_count", "train_count", "eval_count", "label_stats", "statistics", "manifest_uri", "manifest_url",
            "error", "attempts", "history", "created_by", "created_at", "published_at",
        ]
        read_only_fields = [f for f in fields if f not in ("name", "description", "train_ratio", "seed", "stratified")]
        validators = []

    @extend_schema_field(NULLABLE_URI)
    def get_manifest_url(self, version) -> str | None:
        return download_url(self, version.manifest_uri) if version.status == DatasetVersion.Status.READY else None


class ImportTaskSerializer(RunHistoryMixin, serializers.ModelSerializer):
    lease_kind = "import"
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = ImportTask
        fields = [
            "id", "kind", "source_uri", "options", "new_labels", "status", "total", "processed", "added", "skipped",
            "failed", "errors", "error", "attempts", "history", "created_by", "created_at", "started_at",
            "finished_at",
        ]
        read_only_fields = [f for f in fields if f not in ("kind", "source_uri", "options", "new_labels")]
        extra_kwargs = {
            "options": {"help_text": "Format options: images_uri (coco, voc, label_studio: where relative image "
                                     "paths point), text_column, label_column, delimiter (csv)."},
            "new_labels": {"help_text": "add: labels the source brings join the label set; refuse: a record with "
                                        "a label outside it is reported as bad."},
        }


class SampleFiltersSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Sample.Status.choices, required=False)
    usage = serializers.ChoiceField(choices=Sample.Usage.choices, required=False)
    label = serializers.CharField(required=False)
    annotated_by = serializers.CharField(required=False)
    source = serializers.CharField(required=False, help_text="Source URIs starting with this.")
    prediction = serializers.ChoiceField(choices=Prediction.State.choices, required=False,
                                         help_text="Samples with a prediction in this state.")
    confidence_below = serializers.FloatField(required=False, min_value=0, max_value=1,
                                              help_text="Samples with a prediction less confident than this.")


class ExportTaskSerializer(RunHistoryMixin, serializers.ModelSerializer):
    lease_kind = "export"
    version = serializers.PrimaryKeyRelatedField(
        queryset=DatasetVersion.objects.none(), required=False, allow_null=True,
        help_text="Export this published version; omit to export the samples the filters select.",
    )
    filters = SampleFiltersSerializer(required=False)
    result_url = serializers.SerializerMethodField(
        help_text="A time-limited download link of the export (presigned for S3/OBS; signed and served by the "
                  "platform for its local storage).")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = ExportTask
        fields = [
            "id", "version", "filters", "format", "target_uri", "status", "sample_count", "incomplete_count",
            "result_uri", "result_url", "error", "attempts", "history", "created_by", "created_at", "started_at",
            "finished_at",
        ]
        read_only_fields = [f for f in fields if f not in ("version", "filters", "format", "target_uri")]
        extra_kwargs = {"target_uri": {"required": False, "help_text": "Where the manifest is written; defaults "
                                       "to the workspace's own location (its exports/ folder)."}}

    def __init__(self, *args, dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if dataset is not None:
            self.fields["version"].queryset = DatasetVersion.objects.filter(dataset=dataset)

    @extend_schema_field(NULLABLE_URI)
    def get_result_url(self, task) -> str | None:
        return download_url(self, task.result_uri)



# --- annotation tasks ---------------------------------------------------------------------------


class TaskProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    assigned = serializers.IntegerField(help_text="Not yet submitted.")
    submitted = serializers.IntegerField(help_text="Waiting for review.")
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField(help_text="Back with their annotator.")


class AnnotatorProgressSerializer(TaskProgressSerializer):
    username = serializers.CharField()


class AnnotationTaskSerializer(serializers.ModelSerializer):
    assignees = serializers.ListField(
        child=serializers.CharField(), write_only=True, min_length=1,
        help_text="Usernames of workspace members with the annotator role (or higher).",
    )
    filters = SampleFiltersSerializer(required=False, help_text="For scope 'filter': which samples.")
    progress = serializers.SerializerMethodField()
    annotators = serializers.SerializerMethodField(help_text="Per-annotator statistics (in the detail view).")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = AnnotationTask
        fields = [
            "id", "name", "description", "scope", "filters", "assignees", "status", "progress", "annotators",
            "created_by", "created_at", "completed_at",
        ]
        read_only_fields = ["id", "status", "created_at", "completed_at"]
        validators = []

    @extend_schema_field(TaskProgressSerializer)
    def get_progress(self, task) -> dict:
        return {status: getattr(task, f"items_{status}", 0) for status in TaskProgressSerializer._declared_fields}

    @extend_schema_field(AnnotatorProgressSerializer(many=True))
    def get_annotators(self, task) -> list | None:
        return getattr(task, "annotator_stats", None)


class ItemPredictionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    confidence = serializers.FloatField()
    service = serializers.UUIDField(source="service_id")


class AnnotationItemSerializer(serializers.ModelSerializer):
    sample = SampleSerializer(read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, default=None)
    annotations = serializers.SerializerMethodField()
    predictions = serializers.SerializerMethodField(
        help_text="The sample's predictions waiting for review, most confident first (the first pre-fills a new "
                  "task's item).")

    class Meta:
        model = AnnotationItem
        fields = [
            "id", "sample", "assignee", "status", "annotations", "predictions", "annotated_at", "review_comment",
            "reviewed_by", "reviewed_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": True}})
    def get_annotations(self, item) -> list:
        return item.annotations

    @extend_schema_field(ItemPredictionSerializer(many=True))
    def get_predictions(self, item) -> list:
        waiting = getattr(item.sample, "waiting_predictions", None)
        if waiting is None:  # an item a service returned, not a page of the list
            waiting = item.sample.predictions.filter(state=Prediction.State.PREDICTED).order_by("-confidence", "id")
        return ItemPredictionSerializer(waiting, many=True).data


class ItemAnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The item's id.")
    annotations = AnnotationSerializer(many=True)


class ItemAnnotateSerializer(serializers.Serializer):
    items = ItemAnnotationSerializer(many=True, min_length=1, max_length=1000)
    submit = serializers.BooleanField(default=False, help_text="Also submit the items for review.")


class ItemSubmitSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)


class ReviewDecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    result = serializers.ChoiceField(choices=[AnnotationItem.Status.ACCEPTED, AnnotationItem.Status.REJECTED])
    comment = serializers.CharField(required=False, allow_blank=True, help_text="Required when rejecting.")


class ReviewSerializer(serializers.Serializer):
    decisions = ReviewDecisionSerializer(many=True, required=False, max_length=1000)
    accept_all_submitted = serializers.BooleanField(
        default=False, help_text="Accept every submitted item, e.g. after a satisfying spot-check."
    )

    def validate(self, attrs):
        if bool(attrs.get("decisions")) == attrs["accept_all_submitted"]:
            raise serializers.ValidationError(
                {"decisions": "Give either decisions on items, or accept_all_submitted: true."}
            )
        return attrs


class ReviewSampleSerializer(serializers.Serializer):
    percent = serializers.FloatField(min_value=0.1, max_value=100, help_text="Share of submitted items to check.")
    seed = serializers.IntegerField(required=False, help_text="Fixes the random draw.")


class ItemBatchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    items = AnnotationItemSerializer(many=True)


class PrelabelTaskSerializer(RunHistoryMixin, serializers.ModelSerializer):
    lease_kind = "prelabel"
    service = serializers.UUIDField(source="service_id", help_text="A running service of this workspace.")
    filters = SampleFiltersSerializer(required=False, help_text="The samples to pre-label; omitted: the unlabelled "
                                                                "ones.")
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1,
                                            help_text="Answers less confident than this are not kept (default 0).")
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=1000,
                                          help_text="Samples sent per batch (default 100).")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = PrelabelTask
        fields = [
            "id", "service", "service_name", "filters", "min_confidence", "batch_size", "status", "total",
            "processed", "predicted", "below_threshold", "failed", "errors", "error", "attempts", "history",
            "created_by", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = [f for f in fields if f not in ("service", "filters", "min_confidence", "batch_size")]


class PredictionSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="sample.source", read_only=True)
    service = serializers.UUIDField(source="service_id", read_only=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, default=None)

    class Meta:
        model = Prediction
        fields = ["id", "sample", "source", "task", "service", "label", "confidence", "state", "reviewed_by",
                  "reviewed_at", "created_at"]
        read_only_fields = fields


# What a reviewer does to a prediction, and the state it leaves the prediction in.
DECISIONS = {"accept": Prediction.State.ACCEPTED, "reject": Prediction.State.REJECTED}


class PredictionDecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=list(DECISIONS))

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return {**value, "decision": DECISIONS[value["decision"]].value}


class PredictionReviewSerializer(serializers.Serializer):
    decisions = PredictionDecisionSerializer(many=True, min_length=1, max_length=1000)


class PredictionReviewResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    predictions = PredictionSerializer(many=True)


class PredictionBulkReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=list(DECISIONS))
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1,
                                            help_text="Accept the waiting predictions at least this confident.")
    confidence_below = serializers.FloatField(required=False, min_value=0, max_value=1,
                                              help_text="Reject the waiting predictions less confident than this.")
    task = serializers.UUIDField(required=False, help_text="Only the predictions of this pre-labelling task.")

    def validate(self, attrs):
        if attrs["decision"] == "accept" and "min_confidence" not in attrs:
            raise serializers.ValidationError({"min_confidence": "Accepting in bulk takes min_confidence, e.g. 0.9."})
        if attrs["decision"] == "reject" and "confidence_below" not in attrs:
            raise serializers.ValidationError({"confidence_below": "Rejecting in bulk takes confidence_below, e.g. "
                                                                   "0.5."})
        return {**attrs, "decision": DECISIONS[attrs["decision"]].value}


class PredictionBulkResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(required=False)
    rejected = serializers.IntegerField(required=False)
    skipped = serializers.IntegerField(help_text="Predictions left waiting: their sample was labelled meanwhile.")
