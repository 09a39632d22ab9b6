"""Celery tasks: thin wrappers over services, safe to run twice (acks_late redelivers them, the
outbox may send one twice, the reaper requeues one whose worker died)."""

from celery import shared_task

from . import services


@shared_task
def publish_version(version_id):
    services.publish_version(version_id=version_id)


@shared_task
def run_import(task_id):
    services.run_import(task_id=task_id)


@shared_task
def run_export(task_id):
    services.run_export(task_id=task_id)


@shared_task
def reap_stalled_tasks():
    return services.reap_stalled_tasks()


@shared_task
def run_prelabel(task_id):
    services.run_prelabel(task_id=task_id)
