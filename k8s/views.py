from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from aiplatform.api import WorkspaceViewSet
from resourcepools import selectors
from resourcepools.models import Workload

from . import services
from .backend import BackendUnavailable, UnknownReplica
from .serializers import LogQuerySerializer, WorkloadLogsSerializer


class ComputeBackendUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The compute backend cannot be reached now; try again shortly."
    default_code = "backend_unavailable"


class WorkloadLogViews(WorkspaceViewSet):
    """The output of a workload's replicas, from whichever backend runs it: the last lines as
    JSON, or with follow=true a text/plain stream of new lines until the replica ends. Follows are
    the gateway's (gateway.app: `make run` and production send them there, so they hold no API
    worker); one that reaches the API directly is still answered, by the worker, as before."""

    answers_one_object = True  # the collection GET is one WorkloadLogs answer, not a list

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
        download = query.validated_data["download"]
        try:
            replicas = services.workload_replicas(workload=workload)
            tail = None if download else query.validated_data["tail"]
            lines = services.workload_logs(workload=workload, replica=replica, tail=tail, follow=follow)
            if not follow:
                lines = list(lines)
        except UnknownReplica as exc:
            if replica or exc.replicas:
                raise exceptions.ValidationError({"replica": str(exc)}) from None
            lines = []  # nothing started yet (or already removed): no logs to show
        except BackendUnavailable as exc:
            raise ComputeBackendUnavailable(f"The compute backend cannot be reached now ({exc}); try again "
                                            "shortly.") from exc
        if download:
            name = replica or (replicas[0] if replicas else "replica")
            response = StreamingHttpResponse(iter(lines), content_type="text/plain; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{workload.name}-{name}.log"'
            return response
        if follow:
            response = StreamingHttpResponse(iter(lines), content_type="text/plain; charset=utf-8")
            response["X-Accel-Buffering"] = "no"  # let proxies pass lines on as they come
            return response
        return Response({"replica": replica or (replicas[0] if replicas else None), "replicas": replicas,
                         "lines": [line.rstrip("\n") for line in lines]})
