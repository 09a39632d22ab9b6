import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from aiplatform.api import WorkspaceViewSet
from resourcepools.serializers import WorkloadEventSerializer

from . import selectors, services
from .models import Model, Service
from .serializers import (
    ModelSerializer,
    ModelUpdateSerializer,
    PlanRequestSerializer,
    PlanSerializer,
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
        data = ModelUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        model = services.update_model(model=self.get_object(), **data.validated_data)
        return Response(self.get_serializer(model).data)

    def perform_destroy(self, instance):
        services.delete_model(model=instance)


class ServiceFilter(django_filters.FilterSet):
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
        data = ServiceUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        service = services.update_service(service=self.get_object(), changed_by=request.user,
                                          **data.validated_data)
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
        and concurrent sequences at max length, with every number and, when it does not fit,
        suggestions."""
        data = PlanRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["model"].workspace_id != self.workspace.pk:
            raise ValidationError({"model": "No such model in this workspace."})
        return Response(services.plan_for(
            model=v["model"], flavor=v["flavor"], tp=v["tensor_parallel"], pp=v["pipeline_parallel"],
            dp=v["data_parallel"], ep=v["expert_parallel"], quantization=v["quantization"],
            kv_cache_dtype=v["kv_cache_dtype"], memory_utilisation=v["memory_utilisation"],
            max_model_len=v["max_model_len"],
        ))
