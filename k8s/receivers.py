"""How the k8s app hears about workloads and nodes (connected in apps.py ready())."""

from aiplatform.celery import enqueue_on_commit
from resourcepools.models import Phase, PoolKind

from . import tasks


def on_workload_phase_changed(sender, *, workload_ids, phase, **kwargs):
    """Admitted work is submitted, stopping work is cancelled, each by its own task."""
    task = {Phase.ADMITTED: tasks.submit_workload, Phase.STOPPING: tasks.cancel_workload}.get(phase)
    if task is None:
        return
    for workload_id in workload_ids:
        enqueue_on_commit(task, str(workload_id))


def on_node_saved(sender, *, instance, created, **kwargs):
    """A node that joins a pool is labelled for it (and tainted when the pool is dedicated)."""
    if created:
        enqueue_on_commit(tasks.place_node, instance.name, instance.pool.placement_label,
                          instance.pool.kind == PoolKind.DEDICATED)


def on_node_deleted(sender, *, instance, **kwargs):
    enqueue_on_commit(tasks.release_node, instance.name)
