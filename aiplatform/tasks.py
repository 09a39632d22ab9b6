from celery import shared_task

from . import outbox, services


@shared_task
def purge_expired_idempotency_keys():
    return services.purge_expired_idempotency_keys()


@shared_task
def relay_outbox():
    return outbox.relay()
