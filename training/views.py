import django_filters
import requests
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from aiplatform.api import PlatformViewSet, WorkspaceRolePermission, WorkspaceViewSet
from aiplatform.errors import ServiceUnavailable
from aiplatform.filters import created_between
from aiplatform.models import Capability
from k8s.backend import BackendUnavailable, get_compute_backend, is_uuid
from k8s.services import workload_spec
from resourcepools.models import Phase

from . import selectors, services
from .authentication import JobTokenAuthentication
from .models import Algorithm, TrainingJob, VisualizationJob
from .serializers import (
    AlgorithmSerializer,
    CompareQuerySerializer,
    ComparisonSerializer,
    JobEventSerializer,
    MetricPointSerializer,
    MetricReportSerializer,
    TrainingJobCopySerializer,
    TrainingJobSerializer,
    VisualizationSerializer,
)

MAX_STEP = 2**31 - 1


class AlgorithmViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet):
    """The workspace's algorithms and the platform presets (read-only here; operators manage
    presets in the admin)."""

    queryset = Algorithm.objects.none()
    serializer_class = AlgorithmSerializer
    filterset_fields = ["name", "distributed"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.algorithms(workspace=self.workspace)

    def _own(self):
        algorithm = self.get_object()
        if algorithm.is_preset:
            raise exceptions.PermissionDenied("Presets belong to the platform; copy one into your workspace to "
                                              "change it.")
        return algorithm

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        algorithm = services.save_algorithm(workspace=self.workspace, **data.validated_data)
        return Response(self.get_serializer(algorithm).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        algorithm = self._own()
        data = self.get_serializer(algorithm, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        algorithm = services.save_algorithm(workspace=self.workspace, algorithm=algorithm, **data.validated_data)
        return Response(self.get_serializer(algorithm).data)

    def perform_destroy(self, instance):
        services.delete_algorithm(algorithm=self._own())


class TrainingJobFilter(django_filters.FilterSet):
    phase = django_filters.CharFilter(field_name="workload__phase")
    algorithm = django_filters.UUIDFilter(field_name="algorithm_id")
    pool = django_filters.UUIDFilter(field_name="pool_id")
    created_after, created_before = created_between()
    tag = django_filters.CharFilter(field_name="tags", lookup_expr="contains", method="filter_tag")

    class Meta:
        model = TrainingJob
        fields = ["phase", "algorithm", "pool", "created_after", "created_before", "tag"]

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value])


class TrainingJobViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                       WorkspaceViewSet):
    """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase
    from it. Delete only ended jobs; `copy` re-runs with changes."""

    queryset = TrainingJob.objects.none()
    serializer_class = TrainingJobSerializer
    filterset_class = TrainingJobFilter
    ordering_fields = ["created_at", "name", "priority"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.training_jobs(workspace=self.workspace)

    def _respond(self, job, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.create_training_job(workspace=self.workspace, created_by=request.user, **data.validated_data)
        return self._respond(job, status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        return self._respond(services.stop_training_job(job=self.get_object(), stopped_by=request.user))

    @extend_schema(request=TrainingJobCopySerializer, responses={201: TrainingJobSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request, *args, **kwargs):
        job = self.get_object()  # another workspace's job is not found, whatever the body says
        data = TrainingJobCopySerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        job = services.copy_training_job(job=job, created_by=request.user, **data.validated_data)
        return self._respond(job, status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.delete_training_job(job=instance)

    @extend_schema(responses={200: JobEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request, *args, **kwargs):
        """What happened to the job, over all its attempts (a retry says from which step it resumes)."""
        page = self.paginate_queryset(selectors.job_events(job=self.get_object()))
        return self.get_paginated_response(JobEventSerializer(page, many=True).data)

    @extend_schema(parameters=[CompareQuerySerializer], responses={200: ComparisonSerializer})
    @action(detail=False, methods=["get"])
    def compare(self, request, *args, **kwargs):
        """Two or more jobs' series of one metric aligned by step, each against the first: absolute
        difference, relative error, the first step beyond the tolerance, and a verdict (the
        precision pre-check before moving a job between GPU and NPU or changing precision)."""
        query = CompareQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        result = services.compare_jobs(**query.validated_data)
        return Response(ComparisonSerializer(result).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, description="Only this metric, e.g. loss."),
            OpenApiParameter("step_from", int), OpenApiParameter("step_to", int),
        ],
        responses={200: MetricPointSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request, *args, **kwargs):
        def step(name):
            value = request.query_params.get(name)
            if value is None:
                return None
            if not value.isdigit() or int(value) > MAX_STEP:
                raise exceptions.ValidationError({name: f"Give a step number from 0 to {MAX_STEP}."})
            return int(value)

        points = selectors.metric_points(job=self.get_object(), name=request.query_params.get("name"),
                                         step_from=step("step_from"), step_to=step("step_to"))
        page = self.paginate_queryset(points)
        return self.get_paginated_response(MetricPointSerializer(page, many=True).data)


class JobMetricReportViews(PlatformViewSet):
    """Where a running job's runtime reports metrics, with its job token (AIP_JOB_TOKEN)."""

    authentication_classes = [JobTokenAuthentication]
    permission_classes = []
    queryset = TrainingJob.objects.none()
    serializer_class = MetricReportSerializer

    @extend_schema(request=MetricReportSerializer, responses={202: None},
                   parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
    def create(self, request, job_id=None):
        job = request.auth
        if str(job.pk) != str(job_id):
            raise exceptions.PermissionDenied("This job token belongs to another job.")
        data = MetricReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stored = services.record_metrics(job=job, points=data.validated_data["metrics"])
        return Response({"stored": stored}, status=status.HTTP_202_ACCEPTED)


class VisualizationViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                         WorkspaceViewSet):
    """TensorBoard over training jobs' logs (the LLM recipe writes them under tensorboard/): a small
    CPU workload, opened through the platform at its `url` with your credentials, stopped after
    `idle_timeout_seconds` without a visit."""

    queryset = VisualizationJob.objects.none()
    serializer_class = VisualizationSerializer
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.visualizations(workspace=self.workspace)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        visualization = services.create_visualization(workspace=self.workspace, created_by=request.user,
                                                      **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=visualization.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        visualization = services.stop_visualization(visualization=self.get_object(), stopped_by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=visualization.pk)).data)

    def perform_destroy(self, instance):
        services.delete_visualization(visualization=instance)


TENSORBOARD_PARAMETERS = [
    OpenApiParameter("workspace_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
    OpenApiParameter("visualization_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
    OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH, description="TensorBoard's own path."),
]


class TensorBoardProxyView(APIView):
    """TensorBoard's pages and data, through the platform with the caller's credentials (any member
    of the workspace may look)."""

    permission_classes = [IsAuthenticated, WorkspaceRolePermission]
    parser_classes = []  # the body goes to TensorBoard untouched
    action = "tensorboard"
    workspace = None
    CONNECT_TIMEOUT, READ_TIMEOUT = 5, 120
    PASSED_HEADERS = ("Content-Type", "Accept", "Accept-Encoding")
    RETURNED_HEADERS = ("Content-Encoding", "Cache-Control", "ETag", "Last-Modified")

    def capability_for(self, action, method):
        return Capability.READ

    def initial(self, request, *args, **kwargs):
        request._request.audit_skip = True  # page loads, not changes
        super().initial(request, *args, **kwargs)

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT},
                   parameters=TENSORBOARD_PARAMETERS)
    def get(self, request, workspace_id, visualization_id, path=""):
        return self._proxy(request, visualization_id, path)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, parameters=TENSORBOARD_PARAMETERS)
    def post(self, request, workspace_id, visualization_id, path=""):
        return self._proxy(request, visualization_id, path)

    def _proxy(self, request, visualization_id, path):
        visualization = selectors.visualizations(workspace=self.workspace).filter(pk=visualization_id).first() \
            if is_uuid(visualization_id) else None
        if visualization is None:
            raise exceptions.NotFound("Visualization job not found.")
        workload = visualization.workload
        if workload.phase != Phase.RUNNING:
            raise ServiceUnavailable(f"TensorBoard is {workload.phase}; it answers once it is running.")
        try:
            bases = get_compute_backend().endpoints(workload_spec(workload), "tensorboard")
        except BackendUnavailable as exc:
            raise ServiceUnavailable(f"The compute backend cannot be reached: {exc}") from exc
        if not bases:
            raise ServiceUnavailable("TensorBoard is starting; retry shortly.")
        services.note_visualization_access(visualization=visualization)
        query = request.META.get("QUERY_STRING", "")
        url = f"{bases[0]}{services.proxy_path(visualization)}/{path}" + (f"?{query}" if query else "")
        try:
            # Bytes pass through as TensorBoard encodes them, so it compresses only for callers that ask.
            headers = {"Accept-Encoding": "identity", **{k: v for k, v in request.headers.items()
                                                         if k in self.PASSED_HEADERS}}
            upstream = requests.request(request.method, url, data=request.body, stream=True, headers=headers,
                                        timeout=(self.CONNECT_TIMEOUT, self.READ_TIMEOUT))
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"TensorBoard did not answer ({type(exc).__name__}); retry shortly.") from exc
        response = StreamingHttpResponse(upstream.raw.stream(64 * 1024, decode_content=False),
                                         status=upstream.status_code,
                                         content_type=upstream.headers.get("Content-Type", "application/octet-stream"))
        for header in self.RETURNED_HEADERS:
            if header in upstream.headers:
                response[header] = upstream.headers[header]
        response._resource_closers.append(upstream.close)
        return response
