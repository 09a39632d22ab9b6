from celery import shared_task

from aiplatform.celery import enqueue_on_commit

from . import services
from .models import TrainingJob


@shared_task(name="training.tasks.read_trainer_logs")
def read_trainer_logs_task(job_ids=None):
    """Beat reads the logs of running jobs; a job's end reads its log once more."""
    return services.read_trainer_logs(job_ids=job_ids)


def enqueue_log_read(*, workload_ids):
    job_ids = [str(pk) for pk in TrainingJob.objects.filter(workload_id__in=workload_ids).values_list("pk", flat=True)]
    if job_ids:
        enqueue_on_commit(read_trainer_logs_task, job_ids)
