from functools import cached_property

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from aiplatform.api import PlatformViewSet, WorkspaceViewSet
from aiplatform.filters import FilterSet
from resourcepools.serializers import WorkloadEventSerializer

from . import selectors, services
from .authentication import BenchmarkTokenAuthentication
from .models import BenchmarkRun, Model, QuantizationJob, Service
from .serializers import (
    BenchmarkResultSerializer,
    BenchmarkRunSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
    PlanRequestSerializer,
    PlanSerializer,
    QuantizationJobSerializer,
    ServiceSerializer,
    ServiceUpdateSerializer,
)


class ModelViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet):
    """Servable models: from a training job's output, an object-storage location or an image.
    Architecture facts come from the location's config.json when there is one."""

    queryset = Model.objects.none()
    serializer_class = ModelSerializer
    filterset_fields = ["name", "runtime", "source"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "-created_at"]

    def get_queryset(self):
        return selectors.models_of(workspace=self.workspace)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.create_model(workspace=self.workspace, created_by=request.user, **data.validated_data)
        return Response(self.get_serializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelUpdateSerializer, responses={200: ModelSerializer})
    def partial_update(self, request, *args, **kwargs):
        model = self.get_object()  # another workspace's model is not found, whatever the body says
        data = ModelUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        model = services.update_model(model=model, **data.validated_data)
        return Response(self.get_serializer(model).data)

    def perform_destroy(self, instance):
        services.delete_model(model=instance)


class ServiceFilter(FilterSet):
    phase = django_filters.CharFilter(field_name="workload__phase")

    class Meta:
        model = Service
        fields = ["name", "model", "mode", "pool", "phase"]


class ServiceViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet):
    """Online services. Creating or updating one checks parallelism, quantization and KV-cache
    options against the runtime and the flavor, plans the memory, generates the runtime's launch
    arguments and deploys it as a workload; what cannot run is refused with the numbers."""

    queryset = Service.objects.none()
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.services_of(workspace=self.workspace)

    def _respond(self, service, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=service.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        service = services.create_service(workspace=self.workspace, created_by=request.user, **data.validated_data)
        return self._respond(service, status.HTTP_201_CREATED)

    @extend_schema(request=ServiceUpdateSerializer, responses={200: ServiceSerializer})
    def partial_update(self, request, *args, **kwargs):
        service = self.get_object()  # another workspace's service is not found, whatever the body says
        data = ServiceUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        service = services.update_service(service=service, changed_by=request.user, **data.validated_data)
        return self._respond(service)

    def perform_destroy(self, instance):
        services.delete_service(service=instance)

    @extend_schema(request=None, responses={200: ServiceSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        return self._respond(services.stop_service(service=self.get_object(), stopped_by=request.user))

    @extend_schema(request=None, responses={200: ServiceSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, *args, **kwargs):
        return self._respond(services.start_service(service=self.get_object(), started_by=request.user))

    @extend_schema(responses={200: WorkloadEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request, *args, **kwargs):
        page = self.paginate_queryset(selectors.service_events(service=self.get_object()))
        return self.get_paginated_response(WorkloadEventSerializer(page, many=True).data)

    @extend_schema(request=PlanRequestSerializer, responses={200: PlanSerializer})
    @action(detail=False, methods=["post"])
    def plan(self, request, *args, **kwargs):
        """Memory per card for a model on a flavor: weights, KV cache per token, KV-token capacity
        per card and per instance (× DP) and concurrent sequences at max length, with every number
        and, when it does not fit, suggestions naming flavors and node counts the pool has. Every
        check that creating the service runs answers the same 400 here."""
        data = PlanRequestSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return Response(services.plan_request(workspace=self.workspace, **data.validated_data))


SERVICE_PATH = [
    OpenApiParameter("workspace_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
    OpenApiParameter("service_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
]


@extend_schema(parameters=SERVICE_PATH)
class BenchmarkRunViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Benchmark runs of a running service: the platform's load generator runs as a workload on a
    CPU node of the service's pool and reports throughput and latency percentiles per load level
    (static: fixed lengths at each concurrency; dynamic: a range of concurrencies and lengths, and
    the highest concurrency meeting the targets). Listed per service, so runs compare."""

    queryset = BenchmarkRun.objects.none()
    serializer_class = BenchmarkRunSerializer
    filterset_fields = ["mode"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.service  # noqa: B018  (another tenant's service answers 404 before the body is read)

    @cached_property
    def service(self) -> Service:
        return selectors.service(workspace=self.workspace, service_id=self.kwargs["service_id"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BenchmarkRun.objects.none()
        return selectors.benchmark_runs(service=self.service)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.create_benchmark_run(service=self.service, created_by=request.user, **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=run.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BenchmarkRunSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        run = services.stop_benchmark_run(run=self.get_object(), stopped_by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=run.pk)).data)


class BenchmarkResultViews(PlatformViewSet):
    """Where a benchmark run's load generator reports its result, with its run token
    (AIP_BENCHMARK_TOKEN)."""

    authentication_classes = [BenchmarkTokenAuthentication]
    permission_classes = []
    queryset = BenchmarkRun.objects.none()
    serializer_class = BenchmarkResultSerializer

    @extend_schema(request=BenchmarkResultSerializer, responses={202: None},
                   parameters=[OpenApiParameter("run_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
    def create(self, request, run_id=None):
        run = request.auth
        if str(run.pk) != str(run_id):
            raise exceptions.PermissionDenied("This benchmark token belongs to another run.")
        data = BenchmarkResultSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.record_benchmark_result(run=run, result=data.validated_data["result"])
        return Response(status=status.HTTP_202_ACCEPTED)


class QuantizationJobViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Quantization jobs: a model's weights to W8A8 or W4A16 with llm-compressor, as a workload on a
    pool; with an fp8 or int8 KV cache, its scales calibrated on sample texts. Once it succeeds,
    `quantized_weights_uri` (and `kv_scales_uri`) go into a service's options."""

    queryset = QuantizationJob.objects.none()
    serializer_class = QuantizationJobSerializer
    filterset_fields = ["model", "scheme"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.quantization_jobs_of(workspace=self.workspace)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.create_quantization_job(workspace=self.workspace, created_by=request.user,
                                               **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: QuantizationJobSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        job = services.stop_quantization_job(job=self.get_object(), stopped_by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data)
