from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from aiplatform.api import WorkspaceViewSet
from resourcepools import selectors
from resourcepools.models import Workload

from . import services
from .backend import UnknownReplica
from .serializers import LogQuerySerializer, WorkloadLogsSerializer


class WorkloadLogViews(WorkspaceViewSet):
    """The output of a workload's replicas, from whichever backend runs it: the last lines as
    JSON, or with follow=true a text/plain stream of new lines until the replica ends."""

    queryset = Workload.objects.none()
    serializer_class = WorkloadLogsSerializer
    pagination_class = None
    filter_backends = []

    def get_workload(self) -> Workload:
        workload_id = self.kwargs["workload_id"]
        workload = (selectors.workloads(workspace=self.workspace).filter(pk=workload_id).first()
                    if services.is_uuid(workload_id) else None)
        if workload is None:
            raise exceptions.NotFound("Workload not found.")
        return workload

    @extend_schema(
        parameters=[LogQuerySerializer,
                    OpenApiParameter("workload_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={(200, "application/json"): WorkloadLogsSerializer, (200, "text/plain"): OpenApiTypes.STR},
    )
    def list(self, request, *args, **kwargs):
        workload = self.get_workload()
        query = LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        replica, follow = query.validated_data.get("replica"), query.validated_data["follow"]
        replicas = services.workload_replicas(workload=workload)
        try:
            lines = services.workload_logs(workload=workload, replica=replica, tail=query.validated_data["tail"],
                                           follow=follow)
        except UnknownReplica as exc:
            if replica or exc.replicas:
                raise exceptions.ValidationError({"replica": str(exc)}) from None
            lines = iter(())  # nothing started yet (or already removed): no logs to show
        if follow:
            response = StreamingHttpResponse(lines, content_type="text/plain; charset=utf-8")
            response["X-Accel-Buffering"] = "no"  # let proxies pass lines on as they come
            return response
        return Response({"replica": replica or (replicas[0] if replicas else None), "replicas": replicas,
                         "lines": [line.rstrip("\n") for line in lines]})
