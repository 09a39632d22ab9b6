"""Thin, idempotent wrappers over the billing services. Rating and each subscription's renewal run
in one transaction: a worker killed inside one leaves nothing of it, and beat's next run (or the
redelivery acks_late gives a killed worker's task) does it once (tests/faults)."""

from celery import shared_task

from aiplatform.celery import enqueue_on_commit

from . import services


@shared_task(name="billing.tasks.meter_usage")
def meter_usage(workload_ids=None):
    added = services.meter_usage(workload_ids=workload_ids)
    if added:
        enqueue_on_commit(rate_usage)
    return added


@shared_task(name="billing.tasks.rate_usage")
def rate_usage():
    return services.rate_usage()


@shared_task(name="billing.tasks.process_subscriptions")
def process_subscriptions():
    return services.process_subscriptions()


@shared_task(name="billing.tasks.enforce_arrears")
def enforce_arrears():
    return services.enforce_arrears()


@shared_task(name="billing.tasks.check_packages")
def check_packages():
    return services.check_packages()


@shared_task(name="billing.tasks.generate_bills")
def generate_bills():
    return services.generate_bills()
