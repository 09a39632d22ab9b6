from django.db import models
from django.db.models import Prefetch, Q, QuerySet

from resourcepools.models import TERMINAL_PHASES, WorkloadEvent

from .models import Algorithm, MetricPoint, TrainingJob, TrainingJobAttempt, VisualizationJob


def algorithms(*, workspace) -> QuerySet[Algorithm]:
    """The workspace's own algorithms and the platform presets."""
    return Algorithm.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True))


def training_jobs(*, workspace) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(workspace=workspace).select_related(
        "algorithm", "flavor", "pool", "workload", "created_by"
    ).prefetch_related(Prefetch("attempts", queryset=TrainingJobAttempt.objects.select_related("workload")))


def metric_points(*, job, name: str | None = None, step_from: int | None = None,
                  step_to: int | None = None) -> QuerySet[MetricPoint]:
    points = MetricPoint.objects.filter(job=job)
    if name:
        points = points.filter(name=name)
    if step_from is not None:
        points = points.filter(step__gte=step_from)
    if step_to is not None:
        points = points.filter(step__lte=step_to)
    return points


def running_jobs() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.exclude(workload__phase__in=TERMINAL_PHASES).select_related("flavor", "workspace")


def job_events(*, job) -> QuerySet[WorkloadEvent]:
    """The events of every attempt of the job, oldest first."""
    return WorkloadEvent.objects.filter(workload__training_attempt__job=job).annotate(
        attempt=models.F("workload__training_attempt__number")).order_by("created_at", "id")


def visualizations(*, workspace) -> QuerySet[VisualizationJob]:
    return VisualizationJob.objects.filter(workspace=workspace).select_related("workload", "created_by") \
        .prefetch_related("training_jobs")
