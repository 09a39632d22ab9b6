from celery import shared_task

from .admission import admit_workloads


@shared_task(name="resourcepools.tasks.admit_workloads")
def admit_workloads_task(pool_id=None):
    """Beat runs it for every pool; queueing or ending work kicks it for one pool."""
    report = admit_workloads(pool_ids=[pool_id] if pool_id else None)
    return report.admitted
