from functools import cached_property

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from aiplatform.api import WorkspaceViewSet
from aiplatform.models import ROLE_CAPABILITIES, Capability

from . import selectors, services
from .filters import DatasetFilter, ImportTaskFilter, SampleFilter, sample_filters
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
from .pagination import ItemCursorPagination, SampleCursorPagination
from .serializers import (
    AnnotationItemSerializer,
    AnnotationTaskSerializer,
    DatasetSerializer,
    DatasetVersionSerializer,
    ExportTaskSerializer,
    ImportTaskSerializer,
    ItemAnnotateSerializer,
    ItemBatchResultSerializer,
    ItemSubmitSerializer,
    PredictionBulkResultSerializer,
    PredictionBulkReviewSerializer,
    PredictionReviewResultSerializer,
    PredictionReviewSerializer,
    PredictionSerializer,
    PrelabelTaskSerializer,
    ReviewSampleSerializer,
    ReviewSerializer,
    SampleBatchAnnotateSerializer,
    SampleBatchCreateSerializer,
    SampleBatchDeleteSerializer,
    SampleBatchResultSerializer,
    SampleSerializer,
    sample_row,
)

DATASET_PATH = [
    OpenApiParameter("workspace_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
    OpenApiParameter("dataset_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
]


class NamedDataset:
    """A view whose URL may name a dataset (`dataset_id`): the permission check fetches it with
    the workspace and the caller's role, in the same query."""

    def workspace_resource_id(self):
        return (Dataset, self.kwargs["dataset_id"]) if "dataset_id" in self.kwargs else None

    @cached_property
    def dataset(self) -> Dataset:
        if self.workspace_resource is None:
            raise NotFound("Dataset not found.")
        return self.workspace_resource


class DatasetViews(
    NamedDataset, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, WorkspaceViewSet,
):
    """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a
    dataset deletes its records, never the source objects in storage."""

    queryset = Dataset.objects.none()
    serializer_class = DatasetSerializer
    lookup_url_kwarg = "dataset_id"
    filterset_class = DatasetFilter
    ordering_fields = ["name", "created_at", "updated_at", "sample_count"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.datasets(workspace=self.workspace)

    def get_object(self):
        return self.dataset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = services.create_dataset(
            workspace=self.workspace, created_by=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(dataset).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.update_dataset(dataset=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_dataset(dataset=instance)


class DatasetScoped(NamedDataset):
    """A resource of one dataset, under /workspaces/{workspace_id}/datasets/{dataset_id}/.
    Another workspace's dataset answers 404 before the request body is even looked at."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.dataset  # noqa: B018  (resolves the dataset or raises 404)


@extend_schema(parameters=DATASET_PATH)
class SampleViews(DatasetScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """A dataset's samples, paged by cursor (`?cursor=` from `next`), filtered by status, label,
    usage, annotator or source prefix. Batches add, delete and annotate up to 1,000 samples, all
    or none; errors name the item index and field."""

    queryset = Sample.objects.none()
    serializer_class = SampleSerializer
    pagination_class = SampleCursorPagination
    filterset_class = SampleFilter
    ordering_fields = []
    capabilities = {"batch_annotate": Capability.ANNOTATE}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Sample.objects.none()
        return selectors.samples(dataset=self.dataset)

    def list(self, request, *args, **kwargs):
        # The busiest read of the platform: one hand-written query, and pages of up to 1,000
        # rows go to the response without the serializer's machinery.
        filters = sample_filters(request.query_params)
        page = self.paginator.paginate_rows(
            lambda **cursor: selectors.sample_page(dataset=self.dataset, **cursor, **filters), request
        )
        return self.get_paginated_response([sample_row(row) for row in page])

    @extend_schema(request=SampleBatchCreateSerializer, responses={201: SampleBatchResultSerializer})
    def create(self, request, *args, **kwargs):
        """Adds a batch of samples."""
        data = SampleBatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.add_samples(dataset=self.dataset, user=request.user, **_plain(data.validated_data))
        body = {"count": len(created), "samples": SampleSerializer(created, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=SampleBatchDeleteSerializer, responses={200: SampleBatchResultSerializer})
    @action(detail=False, methods=["post"], url_path="batch-delete")
    def batch_delete(self, request, *args, **kwargs):
        """Deletes a batch of samples (their source objects stay in storage)."""
        data = SampleBatchDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"count": services.delete_samples(dataset=self.dataset, **data.validated_data)})

    @extend_schema(request=SampleBatchAnnotateSerializer, responses={200: SampleBatchResultSerializer})
    @action(detail=False, methods=["post"], url_path="batch-annotate")
    def batch_annotate(self, request, *args, **kwargs):
        """Replaces the annotations of a batch of samples; labels must be in the label set."""
        data = SampleBatchAnnotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = services.annotate_samples(
            dataset=self.dataset, user=request.user, items=_plain(data.validated_data["items"])
        )
        return Response({"count": len(changed), "samples": SampleSerializer(changed, many=True).data})


def _plain(value):
    """Validated data as plain dicts and lists, as stored in JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@extend_schema(parameters=DATASET_PATH)
class DatasetVersionViews(
    DatasetScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet
):
    """Published versions: immutable snapshots written as a manifest to the dataset's output
    location. Creating one returns at once with status `publishing`; poll until `ready`."""

    queryset = DatasetVersion.objects.none()
    serializer_class = DatasetVersionSerializer
    filterset_fields = ["status", "name"]
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DatasetVersion.objects.none()
        return selectors.versions(dataset=self.dataset)

    @extend_schema(responses={202: DatasetVersionSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.create_version(dataset=self.dataset, created_by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(version).data, status=status.HTTP_202_ACCEPTED)

    def perform_destroy(self, instance):
        services.delete_version(version=instance)


@extend_schema(parameters=DATASET_PATH)
class ImportTaskViews(DatasetScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Imports into a dataset, run in the background: `prefix` takes every object under a
    storage prefix whose extension fits the dataset type; `manifest` reads a manifest file with
    labels; `coco`, `voc` (a folder of XML files), `yolo` (a folder with classes.txt or data.yaml),
    `label_studio` (a JSON export) and `csv` (texts and labels, CSV or TSV) read those formats;
    `auto` tells the format from the source. Samples already in the dataset are skipped, bad
    records listed in `errors` with their line and where they are (`path`)."""

    queryset = ImportTask.objects.none()
    serializer_class = ImportTaskSerializer
    filterset_class = ImportTaskFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportTask.objects.none()
        return selectors.import_tasks(dataset=self.dataset)

    @extend_schema(responses={202: ImportTaskSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.create_import_task(dataset=self.dataset, created_by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(parameters=DATASET_PATH)
class ExportTaskViews(DatasetScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Exports a published version, or the samples some filters select, to a storage location (a
    file of the format's extension, or a prefix under which one is named), in a `format`: the
    platform's `manifest`, `coco` (JSON), `voc` and `yolo` (tar archives), `label_studio` (JSON) or
    `csv`. The finished task's `result_url` downloads it for a while."""

    queryset = ExportTask.objects.none()
    serializer_class = ExportTaskSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExportTask.objects.none()
        return selectors.export_tasks(dataset=self.dataset)

    def get_serializer(self, *args, **kwargs):
        if not getattr(self, "swagger_fake_view", False):
            kwargs["dataset"] = self.dataset
        return super().get_serializer(*args, **kwargs)

    @extend_schema(responses={202: ExportTaskSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.create_export_task(
            dataset=self.dataset, created_by=request.user, **_plain(serializer.validated_data)
        )
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(parameters=DATASET_PATH)
class AnnotationTaskViews(
    DatasetScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet
):
    """Team labelling: a task deals a dataset's samples (all, unlabelled, or filtered) out to
    annotators; they annotate and submit their own items; a reviewer accepts them (the
    annotations land on the samples) or rejects them with a comment (back to the annotator)."""

    queryset = AnnotationTask.objects.none()
    serializer_class = AnnotationTaskSerializer
    lookup_url_kwarg = "task_id"
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AnnotationTask.objects.none()
        return selectors.annotation_tasks(dataset=self.dataset)

    def get_object(self):
        task = selectors.annotation_task(dataset=self.dataset, task_id=self.kwargs["task_id"])
        task.annotator_stats = selectors.annotator_stats(task=task)
        return task

    @extend_schema(responses={201: AnnotationTaskSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.create_annotation_task(
            dataset=self.dataset, created_by=request.user, **_plain(serializer.validated_data)
        )
        self.kwargs["task_id"] = task.pk
        return Response(self.get_serializer(self.get_object()).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.delete_annotation_task(task=instance)


class AnnotationItemFilter(django_filters.FilterSet):
    assignee = django_filters.CharFilter(field_name="assignee__username")

    class Meta:
        model = AnnotationItem
        fields = ["status", "assignee"]


@extend_schema(parameters=[*DATASET_PATH, OpenApiParameter("task_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
class AnnotationItemViews(DatasetScoped, mixins.ListModelMixin, WorkspaceViewSet):
    """The items of an annotation task. Annotators see, annotate and submit only their own;
    developers and owners see all and review them."""

    queryset = AnnotationItem.objects.none()
    serializer_class = AnnotationItemSerializer
    pagination_class = ItemCursorPagination
    filterset_class = AnnotationItemFilter
    ordering_fields = []
    capabilities = {
        "annotate": Capability.ANNOTATE,
        "submit": Capability.ANNOTATE,
        "review": Capability.DEVELOP,
        "review_sample": Capability.DEVELOP,
    }

    @cached_property
    def task(self) -> AnnotationTask:
        return selectors.annotation_task(dataset=self.dataset, task_id=self.kwargs["task_id"])

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.task  # noqa: B018  (resolves the task or raises 404)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AnnotationItem.objects.none()
        reviewer = Capability.DEVELOP in ROLE_CAPABILITIES[self.role]
        return selectors.annotation_items(task=self.task, assignee=None if reviewer else self.request.user)

    def _result(self, items):
        return Response({"count": len(items), "items": AnnotationItemSerializer(items, many=True).data})

    @extend_schema(request=ItemAnnotateSerializer, responses={200: ItemBatchResultSerializer})
    @action(detail=False, methods=["post"])
    def annotate(self, request, *args, **kwargs):
        """Saves annotations on your own items (assigned or rejected); `submit: true` also submits them."""
        data = ItemAnnotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = services.annotate_items(task=self.task, user=request.user, **_plain(data.validated_data))
        return self._result(items)

    @extend_schema(request=ItemSubmitSerializer, responses={200: ItemBatchResultSerializer})
    @action(detail=False, methods=["post"])
    def submit(self, request, *args, **kwargs):
        """Submits your annotated items for review."""
        data = ItemSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._result(services.submit_items(task=self.task, user=request.user, **data.validated_data))

    @extend_schema(request=ReviewSerializer, responses={200: ItemBatchResultSerializer})
    @action(detail=False, methods=["post"])
    def review(self, request, *args, **kwargs):
        """Accepts or rejects submitted items one by one, or accepts all submitted items."""
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = services.review_items(task=self.task, reviewer=request.user, **_plain(data.validated_data))
        return self._result(items)

    @extend_schema(request=ReviewSampleSerializer, responses={200: ItemBatchResultSerializer})
    @action(detail=False, methods=["post"], url_path="review-sample")
    def review_sample(self, request, *args, **kwargs):
        """Draws a random percentage of the submitted items for a reviewer to spot-check."""
        data = ReviewSampleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._result(services.review_sample(task=self.task, **data.validated_data))


@extend_schema(parameters=DATASET_PATH)
class PrelabelTaskViews(DatasetScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Pre-labelling, run in the background: a running service of the workspace (a text
    classifier answering `POST /predict`) is sent the samples the filters select (unlabelled
    ones by default) in batches; its answers at least `min_confidence` sure are kept as
    predictions for review, apart from the samples' labels. A re-run sends only samples without
    a prediction of that service."""

    queryset = PrelabelTask.objects.none()
    serializer_class = PrelabelTaskSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PrelabelTask.objects.none()
        return selectors.prelabel_tasks(dataset=self.dataset)

    @extend_schema(responses={202: PrelabelTaskSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = _plain(serializer.validated_data)
        task = services.create_prelabel_task(dataset=self.dataset, created_by=request.user,
                                             service=data.pop("service_id"), **data)
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED)


class PredictionFilter(django_filters.FilterSet):
    # By id, not a choice of every tenant's tasks: another's is a task without predictions here.
    task = django_filters.UUIDFilter(field_name="task_id", help_text="The pre-labelling task's id.")
    confidence_below = django_filters.NumberFilter(field_name="confidence", lookup_expr="lt")
    min_confidence = django_filters.NumberFilter(field_name="confidence", lookup_expr="gte")

    class Meta:
        model = Prediction
        fields = ["state", "task", "label", "confidence_below", "min_confidence"]


@extend_schema(parameters=DATASET_PATH)
class PredictionViews(DatasetScoped, mixins.ListModelMixin, WorkspaceViewSet):
    """Models' predictions of the dataset's samples, filtered by state, task, label and
    confidence. Annotators review them: an accepted prediction becomes its sample's label, with
    the reviewer as its annotator; a rejected one stays recorded. Versions publish labels only."""

    queryset = Prediction.objects.none()
    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    ordering_fields = ["confidence", "id"]
    ordering = ["id"]
    capabilities = {"review": Capability.ANNOTATE, "review_by_confidence": Capability.ANNOTATE}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Prediction.objects.none()
        return selectors.predictions(dataset=self.dataset)

    @extend_schema(request=PredictionReviewSerializer, responses={200: PredictionReviewResultSerializer})
    @action(detail=False, methods=["post"])
    def review(self, request, *args, **kwargs):
        """Accepts or rejects predictions one by one (up to 1,000), all or none."""
        data = PredictionReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        predictions = services.review_predictions(dataset=self.dataset, reviewer=request.user,
                                                  decisions=_plain(data.validated_data["decisions"]))
        return Response({"count": len(predictions), "predictions": PredictionSerializer(predictions, many=True).data})

    @extend_schema(request=PredictionBulkReviewSerializer, responses={200: PredictionBulkResultSerializer})
    @action(detail=False, methods=["post"], url_path="review-by-confidence")
    def review_by_confidence(self, request, *args, **kwargs):
        """Accepts every waiting prediction at least `min_confidence` sure, or rejects every one
        under `confidence_below`."""
        data = PredictionBulkReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        task = None
        if "task" in values:
            task = selectors.prelabel_task(dataset=self.dataset, task_id=values.pop("task"))
            if task is None:
                raise ValidationError({"task": "No such pre-labelling task in this dataset."})
        counts = services.review_predictions_by_confidence(dataset=self.dataset, reviewer=request.user, task=task,
                                                           **values)
        return Response(counts)
