"""Work that ran is billed even when it started and ended between two reconciler passes: the
backend's observed start and end bound the usage."""

import time

import pytest
from django.utils import timezone

from billing import services
from k8s import services as compute
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload, WorkloadEvent
from tests.billing.helpers import fund, priced_cpu_flavor, public_pool
from tests.billing.test_api import admin_of
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_one_second_job_finished_between_passes_is_on_the_bill(workspace, developer_client, local_backend,
                                                                   local_root):
    # 3,600.00 an hour is 1.00 a second, so that a second is worth a cent on the bill.
    flavor = priced_cpu_flavor(hourly="3600.00", effective_from="2000-01-01T00:00:00")
    pool = public_pool(flavor)
    fund(workspace.account, "1000.00", when="2000-01-01T00:00:00")
    body = {"name": "one-second", "image": "python:3.11-slim", "pool": str(pool.pk), "flavor": flavor.name,
            "output_uri": f"file://ws-{workspace.pk}/out", "command": ["sleep", "1"]}
    job = developer_client.post(f"/api/v1/workspaces/{workspace.id}/training-jobs/", body, format="json")
    assert job.status_code == 201, job.json()
    workload = Workload.objects.get(pk=job.json()["workload"])
    admit_workloads()
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED, (workload.reason, workload.message)
    created = compute.submit_workload(workload_id=workload.pk)
    workload.refresh_from_db()
    assert created, (workload.phase, workload.message)
    # No reconciler pass while it runs: the backend alone sees it start and end.
    give_up = time.monotonic() + 20
    while (observation := local_backend.status(compute.workload_spec(workload))).finished_at is None:
        assert time.monotonic() < give_up, observation
        time.sleep(0.1)

    compute.reconcile()
    workload.refresh_from_db()
    assert workload.phase == Phase.SUCCEEDED
    assert (workload.started_at, workload.finished_at) == (observation.started_at, observation.finished_at)
    assert workload.admitted_at <= workload.started_at < workload.finished_at
    assert list(WorkloadEvent.objects.filter(workload=workload, from_phase__in=[Phase.ADMITTED, Phase.RUNNING])
                .order_by("created_at", "id").values_list("from_phase", "to_phase")) == [
        (Phase.ADMITTED, Phase.RUNNING), (Phase.RUNNING, Phase.SUCCEEDED)]

    now = timezone.now()
    services.meter_usage(now=now)
    services.rate_usage(now=now)
    admin = client_for(admin_of(workspace))
    bill = admin.post("/api/v1/billing/bills/", {"period": now.date().isoformat()}, format="json")
    assert bill.status_code == 201, bill.json()
    lines = admin.get(f"/api/v1/billing/bills/{bill.json()['id']}/lines/").json()["results"]
    ran = [line for line in lines if line["resource_name"] == workload.name]
    assert [line["mode"] for line in ran] == ["pay_per_use"]
    seconds = int((workload.finished_at - workload.started_at).total_seconds())
    assert seconds >= 1 and ran[0]["amount"] == f"{seconds}.00"

