"""The Kubernetes backend's observed start and end of a Job become the workload's started_at and
finished_at, also when it ran to its end between two reconciler passes."""

from datetime import timedelta

import pytest

from k8s import services
from resourcepools.models import Phase, Workload, WorkloadEvent
from tests.k8s.test_kubernetes_backend import admitted, job_name, namespace

pytestmark = pytest.mark.django_db


def rfc3339(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def admitted_a_minute_ago(workspace):
    workload = admitted(workspace)
    Workload.objects.filter(pk=workload.pk).update(admitted_at=workload.admitted_at - timedelta(minutes=1))
    workload.refresh_from_db()
    return workload


def end_job(cluster, workload, *, started=None, completed=None):
    status = {"conditions": [{"type": "Complete", "status": "True"}]}
    if started:
        status["startTime"] = rfc3339(started)
    if completed:
        status["completionTime"] = rfc3339(completed)
    cluster.batch.patch_namespaced_job_status(job_name(workload), namespace(workload), {"status": status})


def test_a_job_that_ended_between_passes_runs_from_its_observed_start_to_its_end(workspace, kube_backend, cluster):
    workload = admitted_a_minute_ago(workspace)
    assert services.submit_workload(workload_id=workload.pk)
    started = workload.admitted_at.replace(microsecond=0) + timedelta(seconds=2)
    end_job(cluster, workload, started=started, completed=started + timedelta(seconds=3))
    services.reconcile()
    workload.refresh_from_db()
    assert workload.phase == Phase.SUCCEEDED
    assert (workload.started_at, workload.finished_at) == (started, started + timedelta(seconds=3))
    assert WorkloadEvent.objects.filter(workload=workload, from_phase=Phase.ADMITTED, to_phase=Phase.RUNNING,
                                        message__contains="between two looks").exists()


def test_without_an_observed_start_it_ran_from_its_admission(workspace, kube_backend, cluster):
    workload = admitted_a_minute_ago(workspace)
    assert services.submit_workload(workload_id=workload.pk)
    end_job(cluster, workload, completed=workload.admitted_at + timedelta(seconds=5))
    services.reconcile()
    workload.refresh_from_db()
    assert workload.phase == Phase.SUCCEEDED and workload.started_at == workload.admitted_at
    assert workload.finished_at == (workload.admitted_at + timedelta(seconds=5)).replace(microsecond=0)
