"""A notebook stops itself after its idle timeout, read from Jupyter's own activity API
(/api/status last_activity), and is billed for exactly the time it ran: usage records from its
start to the moment it left RUNNING, nothing while stopped. Cost: one JupyterLab (fifteen seconds)."""

import json
from datetime import timedelta

import pytest

from billing.models import UsageRecord
from billing.services import meter_usage
from notebooks import services
from notebooks.models import Notebook
from resourcepools.models import Phase

from .conftest import body, drive, jupyter, url, wait_ready

pytestmark = pytest.mark.django_db
TIMEOUT = 60


def last_activity(notebook_id):
    return Notebook.objects.get(pk=notebook_id).last_activity_at


def test_idle_notebook_stops_from_jupyters_activity_and_is_billed_for_its_running_time(
        workspace, developer_client, pool, local_backend, eager):
    created = developer_client.post(url(workspace), body(pool, idle_timeout_seconds=TIMEOUT), format="json").json()
    notebook_id = created["id"]
    assert drive(eager, notebook_id).phase == Phase.RUNNING
    base = wait_ready(notebook_id)

    assert services.stop_idle_notebooks() == []  # just started
    first = last_activity(notebook_id)
    assert first is not None  # Jupyter's own figure, read from /api/status

    # Work in a kernel is activity: Jupyter's last_activity moves on, and the idle time with it.
    status, kernel = jupyter(base, notebook_id, "api/kernels", method="POST", data=json.dumps(
        {"name": "python3"}).encode())
    assert status == 201 and json.loads(kernel)["name"] == "python3"
    assert services.stop_idle_notebooks() == []
    active = last_activity(notebook_id)
    assert active > first

    assert services.stop_idle_notebooks(now=active + timedelta(seconds=TIMEOUT - 1)) == []
    # Well past the timeout (the kernel's own start-up messages count as activity for a moment).
    assert services.stop_idle_notebooks(now=active + timedelta(seconds=TIMEOUT + 30)) == [notebook_id]
    notebook = Notebook.objects.select_related("workload").get(pk=notebook_id)
    workload = drive(eager, notebook_id, until=(Phase.STOPPED,))
    idle = workload.events.get(reason="IdleTimeout")
    assert idle.to_phase == Phase.STOPPING and f"{TIMEOUT} s" in idle.message
    shown = developer_client.get(url(workspace, f"{notebook_id}/")).json()
    assert (shown["phase"], shown["runs"]) == ("stopped", 1)

    # Billed from its start to the moment it left RUNNING, in clock-hour pieces, each to the second.
    meter_usage(workload_ids=[notebook.workload_id])  # billing metered it as it left RUNNING; again adds nothing
    records = list(UsageRecord.objects.filter(workload_id=notebook.workload_id).order_by("started_at"))
    assert records
    assert records[0].started_at == workload.started_at and records[-1].ended_at == idle.created_at
    for before, after in zip(records, records[1:], strict=False):
        assert before.ended_at == after.started_at
    for record in records:
        assert record.node_seconds == int((record.ended_at - record.started_at).total_seconds())
    # Nothing while stopped.
    assert meter_usage(workload_ids=[notebook.workload_id], now=idle.created_at + timedelta(hours=3)) == 0
