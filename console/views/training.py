"""Training: jobs (list, create from an algorithm's hyperparameter schema, detail with the live
log tail and metric curves, stop, copy, delete) and the comparison of jobs' curves."""

import json
import uuid

from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render

from aiplatform.models import Capability
from datasets.models import DatasetVersion
from resourcepools.models import Phase
from training import selectors
from training.models import MetricPoint, TrainingJob
from training.serializers import SECONDARY

from .base import PAGE_SIZES, page_of, workspace_page
from .capacity import pool_offers

TYPES = {"int": "int", "float": "float", "bool": "bool"}


def named_job(kwargs):
    return TrainingJob, kwargs["job_id"]


@workspace_page(Capability.READ)
def job_list(request):
    scope = request.scope
    jobs = selectors.training_jobs(workspace=scope.workspace).order_by("-created_at")
    if request.GET.get("phase"):
        jobs = jobs.filter(workload__phase=request.GET["phase"])
    return render(request, "console/training/list.html", {
        "scope": scope, "section": "training", "page": page_of(request, jobs), "page_sizes": PAGE_SIZES,
        "phases": Phase.values})


def hyperparameter_fields(algorithm) -> list[dict]:
    """The form's fields for an algorithm's hyperparameter schema: the API's names
    (`hyperparameters.<name>`), types, bounds, choices and defaults."""
    fields = []
    for spec in algorithm.hyperparameters:
        kind = spec.get("type", "str")
        field = {"name": f"hyperparameters.{spec['name']}", "label": spec["name"],
                 "help": spec.get("description", ""), "value": spec.get("default"),
                 "required": spec.get("required", False), "type": TYPES.get(kind, ""),
                 "kind": "number" if kind in ("int", "float") else "text", "min": spec.get("min"),
                 "max": spec.get("max"), "step": "1" if kind == "int" else "any" if kind == "float" else ""}
        if kind == "bool":
            field.update(kind="select", choices=[("true", "true"), ("false", "false")],
                         value="true" if spec.get("default") else "false")
        elif spec.get("choices"):
            field.update(kind="select", choices=[(c, c) for c in spec["choices"]])
        bounds = [f"from {spec['min']}" if spec.get("min") is not None else "",
                  f"to {spec['max']}" if spec.get("max") is not None else ""]
        if any(bounds):
            field["help"] = " ".join(filter(None, [field["help"], "(" + " ".join(filter(None, bounds)) + ")"]))
        fields.append(field)
    return fields


@workspace_page(Capability.DEVELOP)
def job_create(request):
    scope = request.scope
    algorithms = list(selectors.algorithms(workspace=scope.workspace).order_by("name"))
    chosen = next((a for a in algorithms if str(a.pk) == request.GET.get("algorithm")), None)
    if chosen is None and algorithms:
        chosen = next((a for a in algorithms if a.name == "cpu-text-classifier"), algorithms[0])
    versions = list(DatasetVersion.objects.filter(dataset__workspace=scope.workspace, status="ready")
                    .select_related("dataset").order_by("-created_at"))
    offers = pool_offers(user=request.user)
    return render(request, "console/training/create.html", {
        "scope": scope, "section": "training", "algorithms": algorithms, "algorithm": chosen,
        "algorithm_choices": [(a.pk, a.name + (" (preset)" if a.is_preset else "")) for a in algorithms],
        "hyperparameters": hyperparameter_fields(chosen) if chosen else [],
        "channels": [{"channel": c, "channel_field": f"inputs.{i}.channel",
                      "version_field": f"inputs.{i}.dataset_version",
                      "uri_field": f"inputs.{i}.uri", "version_label": f"{c}: a dataset version",
                      "uri_label": f"{c}: or a location", "version": versions[0].pk if versions else None}
                     for i, c in enumerate(chosen.input_channels if chosen else [])],
        "version_choices": [(v.pk, f"{v.dataset.name}:{v.name}") for v in versions],
        "offers": offers, "pool_choices": [(o.pool.pk, o.pool.name) for o in offers],
        "flavor_choices": sorted({(f.flavor.name, f.flavor.name) for o in offers for f in o.flavors}),
    })


@workspace_page(Capability.READ, resource=named_job)
def job_detail(request, job_id):
    scope = request.scope
    job = selectors.training_jobs(workspace=scope.workspace).get(pk=scope.resource.pk)
    workload = job.workload
    metric_names = list(MetricPoint.objects.filter(job=job).values_list("name", flat=True).distinct().order_by("name"))
    return render(request, "console/training/detail.html", {
        "scope": scope, "section": "training", "job": job, "workload": workload,
        "secondary": SECONDARY.get(workload.phase) or workload.reason or "Failed",
        "metric_names": metric_names or ["loss"],
        "metric": "loss" if "loss" in metric_names or not metric_names else metric_names[0],
        "events": list(selectors.job_events(job=job).order_by("-created_at", "-id")[:50]),
        "attempts": list(job.attempts.select_related("workload").order_by("number")),
        "pod_sets": list(workload.pod_sets.all()),
        "live": workload.phase not in ("succeeded", "failed", "stopped"),
    })


@workspace_page(Capability.READ)
def job_for_workload(request, workload_id):
    job = TrainingJob.objects.filter(Q(workload_id=workload_id) | Q(attempts__workload_id=workload_id),
                                     workspace=request.scope.workspace).first()
    if job is None:
        raise Http404("Training job not found.")
    return redirect("console:job", request.scope.workspace.pk, job.pk)


@workspace_page(Capability.READ)
def job_compare(request):
    scope = request.scope
    ids = [i for i in request.GET.getlist("jobs") if i]
    jobs = list(selectors.training_jobs(workspace=scope.workspace).filter(pk__in=_uuids(ids)))
    names = list(MetricPoint.objects.filter(job__in=jobs).values_list("name", flat=True).distinct().order_by("name"))
    recent = list(selectors.training_jobs(workspace=scope.workspace).order_by("-created_at")[:50])
    return render(request, "console/training/compare.html", {
        "scope": scope, "section": "training", "jobs": jobs, "recent": recent, "chosen": {str(j.pk) for j in jobs},
        "metric_names": names or ["loss"],
        "metric": request.GET.get("metric") or ("loss" if "loss" in names or not names else names[0]),
        "series_json": json.dumps([{"label": j.name, "url": f"{scope.api}/training-jobs/{j.pk}/metrics/"}
                                   for j in jobs])})


def _uuids(values):
    kept = []
    for value in values:
        try:
            kept.append(uuid.UUID(value))
        except ValueError:
            continue
    return kept
