"""Datasets: list, create, detail (label statistics, versions, imports with their progress,
exports with download links, the samples as a paged grid), edit; and the annotation tasks."""

import mimetypes

import orjson
from django.db.models import Count, Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from rest_framework.exceptions import NotFound

from aiplatform import locations
from aiplatform import selectors as platform_selectors
from aiplatform.models import Capability, Role
from aiplatform.storage import StorageError, workspace_root_uri
from datasets import selectors
from datasets.domain import IMAGE_EXTENSIONS, DatasetType
from datasets.models import AnnotationTask, Dataset, ImportTask, Sample, SampleLabel

from .base import PAGE_SIZES, page_of, workspace_page

IMAGE_TYPES = {DatasetType.IMAGE_CLASSIFICATION, DatasetType.OBJECT_DETECTION}
SAMPLE_PAGE_SIZES = (24, 48, 96)
ANNOTATING_ROLES = {Role.OWNER, Role.DEVELOPER, Role.ANNOTATOR}


def named_dataset(kwargs):
    return Dataset, kwargs["dataset_id"]


@workspace_page(Capability.READ)
def dataset_list(request):
    scope = request.scope
    datasets = selectors.datasets(workspace=scope.workspace).order_by("-created_at")
    if request.GET.get("name"):
        datasets = datasets.filter(name__icontains=request.GET["name"])
    return render(request, "console/datasets/list.html", {
        "scope": scope, "section": "datasets", "page": page_of(request, datasets), "page_sizes": PAGE_SIZES,
        "types": DatasetType.choices, "storage_uri": workspace_root_uri(scope.workspace.pk)})


def sample_view(dataset, row) -> dict:
    """What the grid shows of a sample: its text, or a thumbnail served by the console."""
    source = row["source"]
    text = source.removeprefix("content://") if source.startswith("content://") else ""
    image = dataset.type in IMAGE_TYPES and source.lower().endswith(IMAGE_EXTENSIONS)
    return {"id": row["id"], "source": source, "text": text, "image": image, "status": row["status"],
            "usage": row["usage"], "position": row["position"], "labels": row.get("labels", [])}


def samples_page(request, dataset) -> dict:
    """A page of the grid: the list API's query, by cursor (`after`/`before` a position)."""
    try:
        size = int(request.GET.get("samples", SAMPLE_PAGE_SIZES[0]))
    except ValueError:
        size = SAMPLE_PAGE_SIZES[0]
    size = size if size in SAMPLE_PAGE_SIZES else SAMPLE_PAGE_SIZES[0]
    label = request.GET.get("label", "")
    before, after = request.GET.get("before", ""), request.GET.get("after", "")
    position = before or after or None
    if position is not None and not position.lstrip("-").isdigit():
        raise Http404("No such page of samples.")
    rows = selectors.sample_page(dataset=dataset, position=int(position) if position else None,
                                 reverse=bool(before), limit=size + 1, label=label)
    more = len(rows) > size
    rows = rows[:size]
    if before:
        rows.reverse()
    for row in rows:
        row["labels"] = [a.get("name") for a in orjson.loads(row["annotations_json"]) if a.get("name")]
    samples = [sample_view(dataset, row) for row in rows]
    return {"samples": samples, "label": label, "size": size, "sizes": SAMPLE_PAGE_SIZES,
            "next_after": samples[-1]["position"] if samples and (more or before) else None,
            "prev_before": samples[0]["position"] if samples and (after or (before and more)) else None}


@workspace_page(Capability.READ, resource=named_dataset)
def dataset_detail(request, dataset_id):
    scope = request.scope
    dataset = scope.resource
    label_counts = dict(SampleLabel.objects.filter(dataset=dataset).values_list("name").annotate(n=Count("id"))
                        .order_by("name"))
    labels = [label["name"] for label in dataset.labels]
    imports = list(selectors.import_tasks(dataset=dataset).order_by("-created_at")[:5])
    exports = list(selectors.export_tasks(dataset=dataset).select_related("version").order_by("-created_at")[:5])
    versions = list(selectors.versions(dataset=dataset).order_by("-created_at")[:20])
    download = locations.WorkspaceLocations(scope.workspace)
    for task in exports:
        task.download = download.download_url(user=request.user, uri=task.result_uri) \
            if task.status == "succeeded" and task.result_uri else None
    for version in versions:
        version.download = download.download_url(user=request.user, uri=version.manifest_uri) \
            if version.status == "ready" and version.manifest_uri else None
    connections = platform_selectors.storage_connections(user=request.user).filter(
        account_id=scope.workspace.account_id)
    return render(request, "console/datasets/detail.html", {
        "scope": scope, "section": "datasets", "dataset": dataset, "imports": imports, "exports": exports,
        "versions": versions, "labels": labels,
        "chart": {"kind": "bar", "labels": labels, "x": "label", "y": "samples",
                  "datasets": [{"label": "samples", "data": [label_counts.get(name, 0) for name in labels]}]},
        "import_kinds": ImportTask.Kind.choices, "task_scopes": AnnotationTask.Scope.choices,
        "version_choices": [(v.pk, v.name) for v in versions if v.status == "ready"],
        "label_choices": [(name, name) for name in labels],
        "storage_uri": workspace_root_uri(scope.workspace.pk), "connections": list(connections),
        "grants": list(scope.workspace.storage_grants.all()),
        "annotation_tasks": list(selectors.annotation_tasks(dataset=dataset).order_by("-created_at")[:10]),
        "annotators": [m.user.username for m in platform_selectors.memberships(workspace=scope.workspace)
                       if m.role in ANNOTATING_ROLES],
        **samples_page(request, dataset)})


@workspace_page(Capability.DEVELOP, resource=named_dataset)
def dataset_edit(request, dataset_id):
    scope = request.scope
    return render(request, "console/datasets/edit.html", {
        "scope": scope, "section": "datasets", "dataset": scope.resource,
        "label_lines": "\n".join(label["name"] for label in scope.resource.labels)})


@workspace_page(Capability.READ, resource=named_dataset)
def sample_file(request, dataset_id, sample_id):
    """A sample's image, read from storage with what reaches it for this workspace: the grid's
    thumbnails and the annotation tool's picture. Only images, never served as anything else."""
    dataset = request.scope.resource
    sample = Sample.objects.filter(dataset=dataset, pk=sample_id).only("source").first()
    if sample is None or not sample.source.lower().endswith(IMAGE_EXTENSIONS):
        raise Http404("Sample not found.")
    try:
        storage = locations.storage_at(workspace=request.scope.workspace, uri=sample.source)
        chunks = storage.read_chunks(sample.source)
        first = next(chunks, b"")
    except StorageError:
        raise Http404("The sample's file cannot be read.") from None

    def stream():
        yield first
        yield from chunks

    response = StreamingHttpResponse(stream(), content_type=mimetypes.guess_type(sample.source)[0] or "image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- annotation -----------------------------------------------------------------------------------


@workspace_page(Capability.READ)
def annotation_list(request):
    """The workspace's annotation tasks, with each one's progress and what waits for the caller."""
    scope = request.scope
    tasks = (AnnotationTask.objects.filter(dataset__workspace=scope.workspace).select_related("dataset")
             .annotate(total=Count("items"),
                       mine=Count("items", filter=_mine(request.user)))
             .order_by("-created_at"))
    return render(request, "console/datasets/annotation_list.html", {
        "scope": scope, "section": "annotation", "page": page_of(request, tasks), "page_sizes": PAGE_SIZES})


def _mine(user):
    return Q(items__assignee=user, items__status__in=["assigned", "rejected"])


@workspace_page(Capability.READ, resource=named_dataset)
def annotation_task(request, dataset_id, task_id):
    """A task: progress per annotator; for reviewers, the submitted items to accept or reject."""
    scope = request.scope
    dataset = scope.resource
    try:
        task = selectors.annotation_task(dataset=dataset, task_id=task_id)
    except NotFound:
        raise Http404("Annotation task not found.") from None
    submitted = []
    if scope.can_develop:
        submitted = page_of(request, selectors.annotation_items(task=task).filter(status="submitted")
                            .order_by("position"))
        for item in submitted:
            item.view = sample_view(dataset, {"id": item.sample_id, "source": item.sample.source,
                                              "status": item.status, "usage": "", "position": item.position})
    return render(request, "console/datasets/annotation_task.html", {
        "scope": scope, "section": "annotation", "dataset": dataset, "task": task,
        "annotators": selectors.annotator_stats(task=task), "page": submitted, "page_sizes": PAGE_SIZES})


@workspace_page(Capability.ANNOTATE, resource=named_dataset)
def annotate(request, dataset_id, task_id):
    """The annotator's queue: their items still to label (assigned, or sent back), one at a time."""
    scope = request.scope
    dataset = scope.resource
    try:
        task = selectors.annotation_task(dataset=dataset, task_id=task_id)
    except NotFound:
        raise Http404("Annotation task not found.") from None
    queue = (selectors.annotation_items(task=task, assignee=request.user).filter(status__in=["assigned", "rejected"])
             .order_by("position")[:200])
    items = []
    for item in queue:
        source = item.sample.source
        view = sample_view(dataset, {"id": item.sample_id, "source": source, "status": "", "usage": "",
                                     "position": item.position})
        items.append({
            "id": item.pk, "sample": item.sample_id, "source": source, "text": view["text"],
            "image": (f"/console/w/{scope.workspace.pk}/datasets/{dataset.pk}/samples/{item.sample_id}/file"
                      if view["image"] else None),
            "width": item.sample.metadata.get("width"), "height": item.sample.metadata.get("height"),
            "annotations": item.annotations, "review_comment": item.review_comment,
        })
    return render(request, "console/datasets/annotate.html", {
        "scope": scope, "section": "annotation", "dataset": dataset, "task": task, "items": items,
        "labels": dataset.labels, "detection": dataset.type == DatasetType.OBJECT_DETECTION})
