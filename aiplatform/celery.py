import os
from contextvars import ContextVar

from celery import Celery
from celery.signals import worker_process_init
from django.core.signals import request_finished, request_started

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

app = Celery("aiplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# True while this thread serves an HTTP request. Only requests are refused work when the broker is
# down (a 503 the caller retries); workers and beat go on and their messages wait in the outbox.
serving_request = ContextVar("serving_request", default=False)


def _request_started(**kwargs):
    serving_request.set(True)


def _request_finished(**kwargs):
    serving_request.set(False)


request_started.connect(_request_started, dispatch_uid="aiplatform.celery.request_started")
request_finished.connect(_request_finished, dispatch_uid="aiplatform.celery.request_finished")


def enqueue_on_commit(task, *args, **kwargs):
    """Send the task (a task or a signature) once the surrounding transaction commits, so the
    worker sees the rows it is about to read and nothing is sent for a transaction that rolled
    back; the message is written to the outbox in that transaction, so none is lost either."""
    from .outbox import enqueue

    return enqueue(task, *args, **kwargs)


@worker_process_init.connect
def _settle_worker_process(**kwargs):
    from .process import tune_collector

    tune_collector()
