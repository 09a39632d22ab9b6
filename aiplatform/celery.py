import os

from celery import Celery
from celery.signals import worker_process_init
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

app = Celery("aiplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_on_commit(task, *args, **kwargs):
    """Send the task once the surrounding transaction commits, so the worker sees the rows
    it is about to read (and nothing is sent for a transaction that rolled back)."""
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs))


@worker_process_init.connect
def _settle_worker_process(**kwargs):
    from .process import tune_collector

    tune_collector()
