from django.db.models import Q, QuerySet

from resourcepools.models import TERMINAL_PHASES

from .models import Algorithm, MetricPoint, TrainingJob


def algorithms(*, workspace) -> QuerySet[Algorithm]:
    """The workspace's own algorithms and the platform presets."""
    return Algorithm.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True))


def training_jobs(*, workspace) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(workspace=workspace).select_related(
        "algorithm", "flavor", "pool", "workload", "created_by"
    )


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
