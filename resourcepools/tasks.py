from celery import shared_task

from .admission import admit_workloads
from .services import evict_unstarted_workloads


@shared_task(name="resourcepools.tasks.admit_workloads")
def admit_workloads_task(pool_id=None):
    """Beat runs it for every pool (evicting admitted work that did not start in time first);
    queueing or ending work kicks it for one pool."""
    if pool_id is None:
        evict_unstarted_workloads()
    report = admit_workloads(pool_ids=[pool_id] if pool_id else None)
    return report.admitted
