"""Tasks wrap the services, beat schedules them, and usage of an unpriced flavor waits."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from aiplatform.celery import app as celery_app
from billing import services, tasks
from billing.models import BillingAccount, Price, UsageRecord
from resourcepools import services as pool_services
from resourcepools.models import Phase, Workload
from tests.billing.helpers import at, priced_cpu_flavor, public_pool, ran
from tests.factories import FlavorFactory

pytestmark = pytest.mark.django_db


def test_beat_schedules_every_billing_task():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"billing.tasks.meter_usage", "billing.tasks.rate_usage", "billing.tasks.process_subscriptions",
            "billing.tasks.enforce_arrears", "billing.tasks.check_packages",
            "billing.tasks.generate_bills"} <= scheduled


def test_tasks_meter_and_rate_finished_work(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    workload = ran(workspace, pool, flavor, start="2023-04-01T00:00:00", end="2023-04-01T01:00:00")
    assert tasks.meter_usage.apply(kwargs={"workload_ids": [str(workload.pk)]}).get() == 1
    assert tasks.rate_usage.apply().get() == 1
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("-2.00")
    for task in (tasks.process_subscriptions, tasks.enforce_arrears, tasks.check_packages, tasks.generate_bills):
        task.apply().get()


def test_usage_of_an_unpriced_flavor_waits_for_a_price(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    unpriced = FlavorFactory()
    pool = public_pool(flavor)
    npu_pool = public_pool(unpriced, name="npu-1", nodes=1)
    ran(workspace, pool, flavor, start="2023-04-01T00:00:00", end="2023-04-01T01:00:00", name="cpu")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    ran(workspace, npu_pool, unpriced, start="2023-04-01T00:00:00", end="2023-04-01T01:00:00", name="npu")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    assert services.rate_usage() == 1  # the cpu hour; the npu hour waits
    assert UsageRecord.objects.count() == 2
    Price.objects.create(flavor=unpriced, pay_per_use_hourly=Decimal("30.00"), monthly=1, yearly=1,
                         effective_from=at("2023-06-01T00:00:00"))
    assert services.rate_usage() == 1
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("-32.00")


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_leaving_running_meters_and_rates_at_once(workspace, eager_celery, django_capture_on_commit_callbacks):
    """The phase change signal meters the workload's last piece and rates it, without waiting
    for beat (Celery runs the tasks inline here)."""
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    workload = ran(workspace, pool, flavor, start="2023-04-01T00:00:00")
    started = timezone.now() - timedelta(minutes=30)
    Workload.objects.filter(pk=workload.pk).update(started_at=started)
    with django_capture_on_commit_callbacks(execute=True):
        pool_services.transition_workloads(workload_ids=[workload.pk], to=Phase.SUCCEEDED, reason="Completed")
    left = Workload.objects.get(pk=workload.pk).finished_at
    records = list(UsageRecord.objects.filter(workload=workload).order_by("started_at"))
    assert (records[0].started_at, records[-1].ended_at) == (started, left)
    assert BillingAccount.objects.get(pk=workspace.account_id).rated_through_id == max(r.pk for r in records)
