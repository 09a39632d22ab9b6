from celery import shared_task

from aiplatform.celery import enqueue_on_commit

from . import services
from .models import TrainingJob


@shared_task(name="training.tasks.read_trainer_logs")
def read_trainer_logs_task(job_ids=None):
    """Beat reads the logs of running jobs; a job's end reads its log once more."""
    return services.read_trainer_logs(job_ids=job_ids)


@shared_task(name="training.tasks.retry_failed_jobs")
def retry_failed_jobs_task(workload_ids):
    """Jobs whose attempt failed for the infrastructure run again (idempotent: once per attempt)."""
    return [str(job.pk) for job in services.retry_failed_jobs(workload_ids=workload_ids)]


@shared_task(name="training.tasks.stop_idle_visualizations")
def stop_idle_visualizations_task():
    return services.stop_idle_visualizations()


def enqueue_log_read(*, workload_ids):
    job_ids = [str(pk) for pk in TrainingJob.objects.filter(
        attempts__workload_id__in=workload_ids).values_list("pk", flat=True).distinct()]
    if job_ids:
        enqueue_on_commit(read_trainer_logs_task, job_ids)


def enqueue_retries(*, workload_ids):
    if TrainingJob.objects.filter(workload_id__in=workload_ids).exists():
        enqueue_on_commit(retry_failed_jobs_task, [str(pk) for pk in workload_ids])
