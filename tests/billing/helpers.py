"""Builders for billing tests: prices, funded accounts, and workloads that ran at given times."""

from datetime import UTC, datetime
from decimal import Decimal

from billing import services
from billing.models import Price, RatedUsage
from resourcepools import services as pool_services
from resourcepools.models import Phase, Workload, WorkloadEvent
from tests.factories import cpu_flavor, make_pool, make_workload


def at(text: str) -> datetime:
    """A UTC moment from 'YYYY-MM-DDTHH:MM:SS'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def priced_cpu_flavor(hourly="2.50", monthly="1750.00", yearly="17500.00", effective_from="2020-01-01T00:00:00"):
    flavor = cpu_flavor()
    flavor.full_clean()  # fills in the family ("cpu"), as the flavors API does
    flavor.save()
    Price.objects.create(flavor=flavor, pay_per_use_hourly=Decimal(hourly), monthly=Decimal(monthly),
                         yearly=Decimal(yearly), effective_from=at(effective_from))
    return flavor


def fund(account, amount, when="2020-01-01T00:00:00"):
    return services.top_up(account=account, amount=Decimal(amount), now=at(when))


def ran(workspace, pool, flavor, start, end=None, replicas=1, name="job"):
    """A workload that was RUNNING from `start` until `end` (still running when None)."""
    workload = make_workload(workspace, pool, flavor=flavor, replicas=replicas, name=name)
    Workload.objects.filter(pk=workload.pk).update(phase=Phase.ADMITTED)
    pool_services.transition_workloads(workload_ids=[workload.pk], to=Phase.RUNNING, reason="Started")
    Workload.objects.filter(pk=workload.pk).update(started_at=at(start))
    if end is not None:
        pool_services.transition_workloads(workload_ids=[workload.pk], to=Phase.SUCCEEDED, reason="Completed")
        WorkloadEvent.objects.filter(workload=workload, from_phase=Phase.RUNNING).update(created_at=at(end))
        Workload.objects.filter(pk=workload.pk).update(finished_at=at(end))
    return Workload.objects.get(pk=workload.pk)


def public_pool(flavor, name="public-1", nodes=4):
    return make_pool(name=name, flavor=flavor, nodes=nodes)


def rated_lines(account, mode=None) -> list[dict]:
    """The lines of the account's rating runs (RatedUsage.LINE_FIELDS as keys), in one mode or all."""
    return [line for run in RatedUsage.objects.filter(account_id=account.pk).order_by("through")
            for line in (dict(zip(RatedUsage.LINE_FIELDS, values, strict=True))
                         for values in RatedUsage.flat_lines(run.lines))
            if mode is None or line["mode"] == mode]
