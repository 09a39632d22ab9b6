import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from datasets.prelabel import ServiceTarget
from k8s.backend import BackendUnavailable, get_compute_backend
from k8s.services import workload_spec
from resourcepools.models import Phase, WorkloadEvent

from .gateway import entry_role
from .models import BenchmarkRun, Model, QuantizationJob, Service, ServiceTraffic


def models_of(*, workspace) -> QuerySet[Model]:
    return Model.objects.filter(workspace=workspace)


def services_of(*, workspace) -> QuerySet[Service]:
    return Service.objects.filter(workspace=workspace).select_related(
        "model", "pool", "flavor", "prefill_flavor", "decode_flavor", "router_flavor", "workload", "next_workload"
    )


def service_events(*, service) -> QuerySet[WorkloadEvent]:
    """The timeline of every deployment the service has had (rollouts included): each carries
    the service's id in its environment."""
    return WorkloadEvent.objects.filter(workload__env__AIP_SERVICE_ID=str(service.pk))


def service_for_gateway(*, workspace, service_id) -> Service | None:
    try:
        return (Service.objects.filter(workspace=workspace, pk=service_id)
                .select_related("workload").prefetch_related("workload__pod_sets").first())
    except (ValueError, ValidationError):
        return None


def service_traffic(*, service) -> QuerySet[ServiceTraffic]:
    return ServiceTraffic.objects.filter(service=service)


def service(*, workspace, service_id) -> Service:
    try:
        found = Service.objects.filter(workspace=workspace, pk=uuid.UUID(str(service_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("Service not found.")
    return found


def benchmark_runs(*, service) -> QuerySet[BenchmarkRun]:
    return BenchmarkRun.objects.filter(service=service).select_related("workload")


def quantization_jobs_of(*, workspace) -> QuerySet[QuantizationJob]:
    return QuantizationJob.objects.filter(workspace=workspace).select_related("model", "workload")


def prelabel_target(*, workspace, service_id, resolve: bool = False) -> ServiceTarget | None:
    """The workspace's service as datasets' pre-labelling sees it (registered in apps.ready):
    running when its current deployment runs; `resolve` adds where its entry role answers now."""
    try:
        found = (Service.objects.filter(workspace=workspace, pk=uuid.UUID(str(service_id)))
                 .select_related("workload").prefetch_related("workload__pod_sets").first())
    except ValueError:
        return None
    if found is None:
        return None
    running = found.workload is not None and found.workload.phase == Phase.RUNNING
    if not (running and resolve):
        return ServiceTarget(name=found.name, running=running)
    try:
        urls = get_compute_backend().endpoints(workload_spec(found.workload), entry_role(found))
    except BackendUnavailable:
        urls = []
    return ServiceTarget(name=found.name, running=running, urls=tuple(urls))
