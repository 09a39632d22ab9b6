"""The gateway's pages in the API: a service's traffic (what metering wrote) and its limits and
routing. Calls to services themselves are served by the gateway process (gateway.app)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.response import Response

from aiplatform.api import WorkspaceViewSet
from inference import selectors as inference_selectors
from inference.models import Service

from . import selectors, services
from .serializers import ServiceGatewaySerializer, TrafficQuerySerializer, TrafficSerializer

SERVICE_ID = OpenApiParameter("service_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


@extend_schema(parameters=[SERVICE_ID])
class ServiceTrafficViews(mixins.ListModelMixin, WorkspaceViewSet):
    """Requests to a service through the gateway per minute, newest first: count, errors, prompt
    and completion tokens, mean and max latency, mean time to first token of streamed answers.
    Written by the gateway's metering every few seconds (GATEWAY_METER_FLUSH_SECONDS)."""

    queryset = Service.objects.none()
    serializer_class = TrafficSerializer
    filter_backends = []

    @extend_schema(parameters=[TrafficQuerySerializer])
    def list(self, request, *args, **kwargs):
        service = inference_selectors.service(workspace=self.workspace, service_id=self.kwargs["service_id"])
        query = TrafficQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.traffic(
            service=service, api_key_prefix=query.validated_data.get("api_key"),
            since=query.validated_data.get("since")))
        return self.get_paginated_response(TrafficSerializer([_minute(row) for row in page], many=True).data)


def _minute(row: dict) -> dict:
    return {**row, "latency_ms_mean": row["latency_ms_total"] / row["requests"] if row["requests"] else 0.0,
            "ttft_ms_mean": row["ttft_ms_total"] / row["streams"] if row["streams"] else None}


@extend_schema(parameters=[SERVICE_ID])
class ServiceLimitsViews(WorkspaceViewSet):
    """A service's limits at the gateway (empty: the platform's defaults; 0: none) and its
    routing (least outstanding requests, or prefix-aware). Members read; developers change."""

    queryset = Service.objects.none()
    serializer_class = ServiceGatewaySerializer
    pagination_class = None
    filter_backends = []

    def get_object(self):
        # Also what OPTIONS looks up to describe the PUT; the route has no `pk`.
        return inference_selectors.service(workspace=self.workspace, service_id=self.kwargs["service_id"])

    @extend_schema(responses={200: ServiceGatewaySerializer})
    def retrieve(self, request, *args, **kwargs):
        return Response(ServiceGatewaySerializer(selectors.gateway_of(service=self.get_object())).data)

    @extend_schema(request=ServiceGatewaySerializer, responses={200: ServiceGatewaySerializer})
    def update(self, request, *args, **kwargs):
        service = self.get_object()
        data = ServiceGatewaySerializer(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        config = services.set_service_gateway(service=service, **data.validated_data)
        return Response(ServiceGatewaySerializer(config).data)
