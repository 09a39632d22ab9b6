"""Thin, idempotent Celery tasks over k8s.services (acks_late: a killed worker's task is redone)."""

from celery import shared_task

from . import services
from .backend import BackendUnavailable

# Outages of the backend (connection refused, 5xx) are retried; refusals fail the workload.
# After the last retry the reconciler still submits or cancels what was left undone.
RETRY = {"autoretry_for": (BackendUnavailable, OSError), "retry_backoff": True, "max_retries": 5}


@shared_task(name="k8s.tasks.submit_workload", **RETRY)
def submit_workload(workload_id):
    return services.submit_workload(workload_id=workload_id)


@shared_task(name="k8s.tasks.cancel_workload", **RETRY)
def cancel_workload(workload_id):
    services.cancel_workload(workload_id=workload_id)


@shared_task(name="k8s.tasks.reconcile_workloads")
def reconcile_workloads():
    report = services.reconcile()
    return {"skipped": report.skipped, "observed": report.observed}


@shared_task(name="k8s.tasks.place_node", **RETRY)
def place_node(node_name, pool_name, dedicated):
    services.place_node(node_name=node_name, pool_name=pool_name, dedicated=dedicated)


@shared_task(name="k8s.tasks.release_node", **RETRY)
def release_node(node_name):
    services.release_node(node_name=node_name)
