"""Models and services: register a model; create a service with the LLM options and the memory
plan shown as it is typed; a service's instances, events, traffic charts, chat playground and
benchmark runs."""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render

from aiplatform.models import Capability
from inference import selectors
from inference.models import (
    BenchmarkMode,
    DeploymentMode,
    KvCacheDtype,
    ModelSource,
    Quantization,
    Runtime,
    Service,
)
from inference.serializers import benchmark_status, service_status
from training import selectors as training_selectors

from .base import PAGE_SIZES, page_of, workspace_page
from .capacity import pool_offers


def named_service(kwargs):
    return Service, kwargs["service_id"]


@workspace_page(Capability.READ)
def model_list(request):
    scope = request.scope
    models = selectors.models_of(workspace=scope.workspace).select_related("training_job").order_by("name", "version")
    jobs = training_selectors.training_jobs(workspace=scope.workspace).filter(
        workload__phase="succeeded").order_by("-created_at")[:50]
    return render(request, "console/inference/models.html", {
        "scope": scope, "section": "models", "page": page_of(request, models), "page_sizes": PAGE_SIZES,
        "sources": ModelSource.choices, "runtimes": Runtime.choices,
        "job_choices": [(j.pk, j.name) for j in jobs]})


@workspace_page(Capability.READ)
def service_list(request):
    scope = request.scope
    services = selectors.services_of(workspace=scope.workspace).order_by("name")
    page = page_of(request, services)
    for service in page:
        service.state = service_status(service)
    return render(request, "console/inference/services.html", {
        "scope": scope, "section": "services", "page": page, "page_sizes": PAGE_SIZES})


@workspace_page(Capability.DEVELOP)
def service_create(request):
    scope = request.scope
    models = list(selectors.models_of(workspace=scope.workspace).order_by("name", "version"))
    offers = pool_offers(user=request.user)
    flavors = sorted({(f.flavor.name, f.flavor.name) for o in offers for f in o.flavors})
    return render(request, "console/inference/service_create.html", {
        "scope": scope, "section": "services", "offers": offers,
        "model_choices": [(m.pk, f"{m.name} v{m.version} ({m.runtime})") for m in models],
        "pool_choices": [(o.pool.pk, o.pool.name) for o in offers], "flavor_choices": flavors,
        "modes": DeploymentMode.choices, "quantizations": Quantization.choices, "kv_dtypes": KvCacheDtype.choices,
        "chosen_model": request.GET.get("model", "")})


@workspace_page(Capability.READ, resource=named_service)
def service_detail(request, service_id):
    scope = request.scope
    service = selectors.services_of(workspace=scope.workspace).get(pk=scope.resource.pk)
    workload = service.workload
    runs = list(selectors.benchmark_runs(service=service).order_by("-created_at")[:20])
    for run in runs:
        run.state = benchmark_status(run)
    latest = next((run for run in runs if run.result), None)
    return render(request, "console/inference/service_detail.html", {
        "scope": scope, "section": "services", "service": service, "workload": workload,
        "state": service_status(service),
        "pod_sets": list(workload.pod_sets.select_related("flavor")) if workload else [],
        "events": list(selectors.service_events(service=service).order_by("-created_at", "-id")[:30]),
        "runs": runs, "benchmark_chart": benchmark_chart(latest), "latest": latest,
        "modes": BenchmarkMode.choices,
        "running": workload is not None and workload.phase == "running"})


def benchmark_chart(run) -> dict | None:
    """Throughput and TTFT against concurrency of a run's levels, for a chart."""
    if run is None or not run.result:
        return None
    levels = sorted(run.result.get("levels", []), key=lambda level: level.get("concurrency", 0))
    return {"kind": "line", "labels": [level.get("concurrency") for level in levels], "x": "concurrency",
            "y": "tokens/s and ms",
            "datasets": [
                {"label": "output tokens/s", "data": [level.get("output_tokens_per_second") for level in levels]},
                {"label": "TTFT p90 (ms)", "data": [_p90_ms(level, "ttft") for level in levels]},
                {"label": "TPOT p90 (ms)", "data": [_p90_ms(level, "tpot") for level in levels]},
            ]}


def _p90_ms(level: dict, measure: str) -> float:
    return round(1000 * ((level.get("latency_seconds") or {}).get(measure) or {}).get("p90", 0), 2)


@workspace_page(Capability.READ)
def service_for_workload(request, workload_id):
    service = Service.objects.filter(Q(workload_id=workload_id) | Q(next_workload_id=workload_id),
                                     workspace=request.scope.workspace).first()
    if service is None:
        raise Http404("Service not found.")
    return redirect("console:service", request.scope.workspace.pk, service.pk)
