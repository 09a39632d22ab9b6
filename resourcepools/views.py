from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from aiplatform.api import IsOperatorOrReadOnly, PlatformViewSet, WorkspaceViewSet
from aiplatform.selectors import account_member

from . import selectors, services
from .models import Flavor, Node, Quota, ResourcePool, Workload
from .serializers import (
    FlavorSerializer,
    NodeSerializer,
    NodeUpdateSerializer,
    QuotaSerializer,
    QuotaUpdateSerializer,
    ResourcePoolCreateSerializer,
    ResourcePoolSerializer,
    ResourcePoolUpdateSerializer,
    WorkloadEventSerializer,
    WorkloadSerializer,
)


class FlavorViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, mixins.DestroyModelMixin, PlatformViewSet):
    """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""

    queryset = Flavor.objects.all()
    serializer_class = FlavorSerializer
    permission_classes = [IsAuthenticated, IsOperatorOrReadOnly]
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["accelerator_kind", "family", "is_active"]
    ordering_fields = ["name", "vcpus", "accelerators"]
    ordering = ["name"]

    def perform_create(self, serializer):
        serializer.instance = services.save_flavor(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.save_flavor(flavor=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_flavor(flavor=instance)


class ResourcePoolViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, PlatformViewSet):
    """Public pools and your account's dedicated pools, with capacity and live use."""

    queryset = ResourcePool.objects.none()
    serializer_class = ResourcePoolSerializer
    permission_classes = [IsAuthenticated, IsOperatorOrReadOnly]
    filterset_fields = ["kind", "status", "region"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.pools_visible_to(user=self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "utilisation": getattr(self, "_utilisation", {})}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._utilisation = selectors.pool_utilisation(pool_ids=[p.pk for p in page])
        return page

    def retrieve(self, request, *args, **kwargs):
        pool = self.get_object()
        self._utilisation = selectors.pool_utilisation(pool_ids=[pool.pk])
        return Response(self.get_serializer(pool).data)

    @extend_schema(request=ResourcePoolCreateSerializer, responses={201: ResourcePoolSerializer})
    def create(self, request, *args, **kwargs):
        data = ResourcePoolCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pool = services.create_pool(**data.validated_data)
        self._utilisation = selectors.pool_utilisation(pool_ids=[pool.pk])
        return Response(self.get_serializer(pool).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ResourcePoolUpdateSerializer, responses={200: ResourcePoolSerializer})
    def partial_update(self, request, *args, **kwargs):
        data = ResourcePoolUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        pool = services.update_pool(pool=self.get_object(), **data.validated_data)
        self._utilisation = selectors.pool_utilisation(pool_ids=[pool.pk])
        return Response(self.get_serializer(pool).data)

    def perform_destroy(self, instance):
        services.delete_pool(pool=instance)


class NodeViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, PlatformViewSet):
    """The nodes of a pool. Operators add, cordon (schedulable=false) and remove them."""

    queryset = Node.objects.none()
    serializer_class = NodeSerializer
    permission_classes = [IsAuthenticated, IsOperatorOrReadOnly]
    filterset_fields = ["flavor__name", "schedulable", "health"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_pool(self):
        pools = selectors.pools_visible_to(user=self.request.user)
        try:
            pool = pools.filter(pk=self.kwargs["pool_id"]).first()
        except (ValueError, exceptions.ValidationError):
            pool = None
        if pool is None:
            raise exceptions.NotFound("Resource pool not found.")
        return pool

    def get_queryset(self):
        return selectors.nodes(pool=self.get_pool())

    def create(self, request, *args, **kwargs):
        data = NodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        node = services.add_node(pool=self.get_pool(), name=data.validated_data["name"],
                                 flavor=data.validated_data["flavor"])
        return Response(NodeSerializer(node).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=NodeUpdateSerializer, responses={200: NodeSerializer})
    def partial_update(self, request, *args, **kwargs):
        data = NodeUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        node = services.update_node(node=self.get_object(), **data.validated_data)
        return Response(NodeSerializer(node).data)

    def perform_destroy(self, instance):
        services.remove_node(node=instance)


class CanSetQuotas(BasePermission):
    message = "Only operators and your account admins set quotas."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS or request.user.is_staff:
            return True
        member = account_member(user=request.user)
        return member is not None and member.is_admin and member.account_id == view.workspace.account_id


def _queue_settings(validated: dict) -> dict:
    settings = {k: v for k, v in validated.items() if k not in ("pool", "flavor_shares")}
    if "flavor_shares" in validated:
        settings["flavors"] = [dict(share) for share in validated["flavor_shares"]]
    return settings


class QuotaViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet):
    """The workspace's queue (quota) per pool: nominal shares, borrowing and lending limits and
    weight, with current use and what it borrows and lends now. POST sets a pool's queue."""

    queryset = Quota.objects.none()
    serializer_class = QuotaSerializer
    permission_classes = [*WorkspaceViewSet.permission_classes, CanSetQuotas]
    filterset_fields = ["pool"]
    ordering = ["pool__name"]
    ordering_fields = ["pool__name", "updated_at"]

    def get_queryset(self):
        return selectors.quotas(workspace=self.workspace)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["usage"] = getattr(self, "_usage", {})
        context["shares"] = getattr(self, "_shares", {})
        return context

    def _load(self, pool_ids):
        self._usage = selectors.quota_usage(workspace=self.workspace, pool_ids=pool_ids)
        self._shares = selectors.queue_shares(workspace=self.workspace, pool_ids=pool_ids)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._load([q.pool_id for q in page])
        return page

    def _respond(self, quota, code=status.HTTP_200_OK):
        self._load([quota.pool_id])
        return Response(self.get_serializer(quota).data, status=code)

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    def create(self, request, *args, **kwargs):
        data = QuotaSerializer(data=request.data, context={"usage": {}})
        data.is_valid(raise_exception=True)
        limits = _queue_settings(data.validated_data)
        quota = services.set_quota(workspace=self.workspace, pool=data.validated_data["pool"], **limits)
        return self._respond(quota, status.HTTP_201_CREATED)

    @extend_schema(request=QuotaUpdateSerializer, responses={200: QuotaSerializer})
    def partial_update(self, request, *args, **kwargs):
        quota = self.get_object()
        data = QuotaUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        quota = services.set_quota(workspace=self.workspace, pool=quota.pool, **_queue_settings(data.validated_data))
        return self._respond(quota)

    def perform_destroy(self, instance):
        services.delete_quota(quota=instance)


class WorkloadViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Everything that uses pool capacity in the workspace: phase, pending reason, queue position
    and, while queued, when it is expected to start and why then; pod sets. Training jobs and
    services create theirs; POST creates a custom one."""

    queryset = Workload.objects.none()
    serializer_class = WorkloadSerializer
    filterset_fields = ["phase", "kind", "pool"]
    ordering_fields = ["created_at", "priority", "queued_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.workloads(workspace=self.workspace)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "estimates": getattr(self, "_estimates", {})}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if self.action == "list":  # `events` pages events, not workloads
            self._estimates = selectors.start_estimates(workloads=page)
        return page

    def _one(self, workload):
        workload = selectors.workloads(workspace=self.workspace).get(pk=workload.pk)
        self._estimates = selectors.start_estimates(workloads=[workload])
        return self.get_serializer(workload).data

    def retrieve(self, request, *args, **kwargs):
        return Response(self._one(self.get_object()))

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        workload = services.create_workload(
            workspace=self.workspace, created_by=request.user, pod_sets=[dict(p) for p in fields.pop("pod_sets")],
            **fields,
        )
        return Response(self._one(workload), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: WorkloadSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        workload = services.stop_workload(workload=self.get_object(), stopped_by=request.user)
        return Response(self._one(workload))

    @extend_schema(responses={200: WorkloadEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request, *args, **kwargs):
        events = selectors.workload_events(workload=self.get_object())
        page = self.paginate_queryset(events)
        return self.get_paginated_response(WorkloadEventSerializer(page, many=True).data)
