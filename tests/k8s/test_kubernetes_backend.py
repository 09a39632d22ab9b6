"""KubernetesBackend over HTTP against the kmock emulator: the tests play the cluster's
controllers (create pods, patch statuses) and check the platform's reaction."""

import io
import threading
import uuid
from datetime import timedelta

import kmock
import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from kubernetes import client

from k8s import services
from k8s.backend import SubmitError, clear_backend_cache
from k8s.manifests import base_name
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload, WorkloadEvent
from tests.factories import FlavorFactory, WorkspaceFactory, make_pool, make_workload
from tests.k8s.emulator import kubeconfig

pytestmark = pytest.mark.django_db

INDEX = "batch.kubernetes.io/job-completion-index"


def namespace(workload):
    return f"aip-ws-{workload.workspace_id}"


def job_name(workload, role="worker"):
    return f"{base_name(str(workload.pk))}-{role}"


def admitted(workspace, pool=None, replicas=1, kind="training", **extra):
    pool = pool or make_pool(name=f"p-{uuid.uuid4().hex[:8]}", nodes=max(replicas, 1))
    workload = make_workload(workspace, pool, replicas=replicas, image="registry.local/train:1",
                             command=["python", "train.py"], **extra)
    if kind != "training":
        Workload.objects.filter(pk=workload.pk).update(kind=kind)
    admit_workloads()
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED
    return workload


def start_pods(cluster, workload, role="worker", phase="Running", statuses=None):
    """What the Job controller and kubelet would do: one pod per replica, then its status."""
    job = cluster.batch.read_namespaced_job(job_name(workload, role), namespace(workload))
    names = []
    for index in range(job.spec.parallelism):
        name = f"{job.metadata.name}-{index}-x{index}"
        labels = {**job.spec.template.metadata.labels, INDEX: str(index)}
        cluster.core.create_namespaced_pod(namespace(workload), {
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": role, "image": "registry.local/train:1"}]},
        })
        status = {"phase": phase, **((statuses or {}).get(index) or {})}
        cluster.core.patch_namespaced_pod_status(name, namespace(workload), {"status": status})
        names.append(name)
    return names


def finish_job(cluster, workload, condition, reason="", role="worker"):
    cluster.batch.patch_namespaced_job_status(job_name(workload, role), namespace(workload), {"status": {
        "conditions": [{"type": condition, "status": "True", "reason": reason}]}})


def phase_after_reconcile(workload):
    services.reconcile()
    workload.refresh_from_db()
    return workload.phase


def test_submit_creates_namespace_and_objects_and_a_retry_adopts_them(workspace, kube_backend, cluster):
    workload = admitted(workspace, replicas=2)
    assert services.submit_workload(workload_id=workload.pk) is True
    job = cluster.batch.read_namespaced_job(job_name(workload), namespace(workload))
    assert job.spec.completion_mode == "Indexed" and job.spec.parallelism == 2
    assert job.spec.template.spec.node_selector == {"aiplatform.io/pool": workload.pool.name}
    assert cluster.core.read_namespaced_service(base_name(str(workload.pk)), namespace(workload)).spec.cluster_ip == \
        "None"
    # A retried submit (a redelivered task) meets 409 Conflict and adopts its own objects.
    assert services.submit_workload(workload_id=workload.pk) is False
    job_creates = [r for r in cluster.emulator if r.action == kmock.action.CREATE and r.resource.plural == "jobs"]
    assert len(job_creates) == 2
    assert len(cluster.batch.list_namespaced_job(namespace(workload)).items) == 1
    assert WorkloadEvent.objects.filter(workload=workload, reason="Submitted").count() == 1


def test_a_workspace_namespace_gets_its_network_policy_kept_as_the_settings_say(workspace, settings, cluster,
                                                                               kube_backend):
    workload = admitted(workspace)
    assert services.submit_workload(workload_id=workload.pk) is True
    networking = client.NetworkingV1Api(cluster.api)
    [policy] = networking.list_namespaced_network_policy(namespace(workload)).items
    assert policy.metadata.name == "aip-workspace-isolation"
    assert policy.spec.ingress[0]._from[1].namespace_selector.match_labels == {
        "kubernetes.io/metadata.name": "aiplatform"}
    # The gateway moves: the next submit in the namespace brings the policy up to the settings.
    settings.K8S_PLATFORM_NAMESPACE_LABELS = "aiplatform.io/role=gateway"
    settings.K8S_CLUSTER_CIDRS = "10.244.0.0/16"
    clear_backend_cache()
    other = admitted(workspace)
    assert services.submit_workload(workload_id=other.pk) is True
    [policy] = networking.list_namespaced_network_policy(namespace(workload)).items
    assert policy.spec.ingress[0]._from[1].namespace_selector.match_labels == {"aiplatform.io/role": "gateway"}
    assert policy.spec.egress[0].to[2].ip_block._except == ["10.244.0.0/16"]
    pods = [j.spec.template.spec for j in cluster.batch.list_namespaced_job(namespace(workload)).items]
    assert len(pods) == 2 and all(p.automount_service_account_token is False for p in pods)


def test_a_name_taken_by_something_else_fails_the_submit(workspace, kube_backend, cluster):
    workload = admitted(workspace)
    cluster.batch.create_namespaced_job(namespace(workload), {
        "metadata": {"name": job_name(workload), "labels": {"team": "other"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}}})
    with pytest.raises(SubmitError):
        kube_backend.submit(services.workload_spec(workload))
    services.submit_workload(workload_id=workload.pk)
    workload.refresh_from_db()
    assert workload.phase == Phase.FAILED and workload.reason == "SubmitFailed"
    assert "belongs to something else" in workload.message


def test_job_runs_and_succeeds_with_logs_per_replica(workspace, developer_client, kube_backend, cluster):
    workload = admitted(workspace, replicas=2)
    services.submit_workload(workload_id=workload.pk)
    assert phase_after_reconcile(workload) == Phase.ADMITTED  # no pods yet
    pods = start_pods(cluster, workload)
    assert phase_after_reconcile(workload) == Phase.RUNNING
    # Pod logs come only from a reaction; bytes go out as the raw text the kubelet would send.
    cluster.emulator[f"get /api/v1/namespaces/{namespace(workload)}/pods/{pods[1]}/log"] << (
        b"step 1 loss 2.0\nstep 2 loss 1.5\n")
    url = f"/api/v1/workspaces/{workspace.pk}/workloads/{workload.pk}/logs/"
    body = developer_client.get(url, {"replica": "worker-1", "tail": 1}).json()
    assert body == {"replica": "worker-1", "replicas": ["worker-0", "worker-1"], "lines": ["step 2 loss 1.5"]}
    streamed = developer_client.get(url, {"replica": "worker-1", "follow": "true"})
    assert b"".join(streamed.streaming_content) == b"step 1 loss 2.0\nstep 2 loss 1.5\n"
    finish_job(cluster, workload, "Complete")
    assert phase_after_reconcile(workload) == Phase.SUCCEEDED
    assert workload.reason == "Completed"
    events = developer_client.get(f"/api/v1/workspaces/{workspace.pk}/workloads/{workload.pk}/events/").json()
    assert [e["reason"] for e in events["results"]] == [
        "Created", "Queued", "Admitted", "Submitted", "Running", "Completed"]


def test_oom_killed_replica_fails_the_workload_in_plain_words(workspace, kube_backend, cluster):
    workload = admitted(workspace, replicas=2)
    services.submit_workload(workload_id=workload.pk)
    start_pods(cluster, workload, phase="Failed", statuses={1: {"containerStatuses": [{
        "name": "worker", "image": "registry.local/train:1", "ready": False, "restartCount": 0, "imageID": "",
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}})
    finish_job(cluster, workload, "Failed", reason="BackoffLimitExceeded")
    assert phase_after_reconcile(workload) == Phase.FAILED
    assert workload.reason == "OOMKilled"
    assert workload.message == ("Replica worker-1 ran out of memory and was killed (OOMKilled); ask for more "
                                "memory or use less.")


def test_deadline_exceeded_names_the_max_runtime(workspace, kube_backend, cluster):
    workload = admitted(workspace, max_runtime_seconds=600)
    services.submit_workload(workload_id=workload.pk)
    finish_job(cluster, workload, "Failed", reason="DeadlineExceeded")
    assert phase_after_reconcile(workload) == Phase.FAILED
    assert (workload.reason, workload.message) == (
        "DeadlineExceeded", "It ran longer than its max runtime of 600 s and was stopped.")


def test_container_troubles_become_events_once(workspace, kube_backend, cluster):
    workload = admitted(workspace, replicas=2)
    services.submit_workload(workload_id=workload.pk)
    start_pods(cluster, workload, phase="Pending", statuses={
        0: {"containerStatuses": [{"name": "worker", "image": "registry.local/train:1", "ready": False,
                                   "restartCount": 0, "imageID": "",
                                   "state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
        1: {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": "0/3 nodes are available: 3 Insufficient huawei.com/Ascend910"}]},
    })
    services.reconcile()
    services.reconcile()
    events = list(WorkloadEvent.objects.filter(workload=workload, reason__in=["ImagePullBackOff", "Unschedulable"])
                  .order_by("reason").values_list("reason", "message"))
    assert events == [
        ("ImagePullBackOff", "Replica worker-0 cannot pull its image registry.local/train:1; check the name and "
                             "the registry's credentials."),
        ("Unschedulable", "Replica worker-1 cannot be placed on any node: 0/3 nodes are available: 3 Insufficient "
                          "huawei.com/Ascend910."),
    ]
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED


def test_warning_events_of_our_objects_become_workload_events(workspace, kube_backend, cluster):
    workload = admitted(workspace)
    services.submit_workload(workload_id=workload.pk)
    for kind, name, event_type, reason, message in (
        ("Job", job_name(workload), "Warning", "FailedCreate",
         'Error creating: pods "x" is forbidden: exceeded quota: compute, requested: cpu=192'),
        ("Job", job_name(workload), "Normal", "SuccessfulCreate", "Created pod: x"),
        ("Job", "someone-elses-job", "Warning", "FailedCreate", "not ours"),
    ):
        cluster.core.create_namespaced_event(namespace(workload), {
            "metadata": {"name": f"{name}.{reason}"}, "type": event_type, "reason": reason, "message": message,
            "involvedObject": {"kind": kind, "namespace": namespace(workload), "name": name}})
    assert [e.reason for e in kube_backend.events(services.workload_spec(workload))] == ["FailedCreate"]
    services.reconcile()
    services.reconcile()
    events = list(WorkloadEvent.objects.filter(workload=workload, reason__startswith="Failed").values_list(
        "reason", "message"))
    assert events == [("FailedCreate", f"Job {job_name(workload)}: Error creating: pods \"x\" is forbidden: "
                                       "exceeded quota: compute, requested: cpu=192")]


def test_disaggregated_inference_runs_when_every_role_is_available(workspace, kube_backend, cluster):
    flavor = FlavorFactory()
    pool = make_pool(nodes=3, flavor=flavor)
    workload = pool_services.create_workload(
        workspace=workspace, pool=pool, name="llm", kind="inference", image="registry.local/serve:1",
        pod_sets=[{"name": "prefill", "replicas": 1, "flavor": flavor},
                  {"name": "decode", "replicas": 2, "flavor": flavor}])
    admit_workloads()
    services.submit_workload(workload_id=workload.pk)
    base = base_name(str(workload.pk))
    for role, replicas in (("prefill", 1), ("decode", 2)):
        assert cluster.core.read_namespaced_service(f"{base}-{role}", namespace(workload))
        cluster.apps.patch_namespaced_deployment_status(f"{base}-{role}", namespace(workload), {
            "status": {"availableReplicas": replicas if role == "prefill" else 1}})
    assert phase_after_reconcile(workload) == Phase.ADMITTED  # decode is not all there yet
    cluster.apps.patch_namespaced_deployment_status(f"{base}-decode", namespace(workload),
                                                    {"status": {"availableReplicas": 2}})
    assert phase_after_reconcile(workload) == Phase.RUNNING


def test_an_autoscaled_service_gets_its_autoscaler_and_loses_it_on_stop(workspace, kube_backend, cluster):
    flavor = FlavorFactory()
    workload = pool_services.create_workload(
        workspace=workspace, pool=make_pool(nodes=2, flavor=flavor), name="chat", kind="inference",
        image="registry.local/serve:1", pod_sets=[{"name": "server", "replicas": 1, "flavor": flavor,
                                                   "min_replicas": 1, "max_replicas": 2, "target_concurrency": 8}])
    admit_workloads()
    services.submit_workload(workload_id=workload.pk)
    name = f"{base_name(str(workload.pk))}-server"
    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler(name, namespace(workload))
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 2)
    pool_services.stop_workload(workload=workload, stopped_by=None)
    services.cancel_workload(workload_id=workload.pk)
    assert cluster.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace(workload)).items == []
    assert cluster.apps.list_namespaced_deployment(namespace(workload)).items == []


def test_an_orphaned_autoscaled_deployment_goes_with_its_autoscaler(workspace, kube_backend, cluster):
    flavor = FlavorFactory()
    workload = pool_services.create_workload(
        workspace=workspace, pool=make_pool(nodes=1, flavor=flavor), name="chat", kind="inference",
        image="registry.local/serve:1", pod_sets=[{"name": "server", "replicas": 1, "flavor": flavor,
                                                   "min_replicas": 1, "max_replicas": 2}])
    admit_workloads()
    services.submit_workload(workload_id=workload.pk)
    pool_services.transition_workload(workload=workload, to=Phase.FAILED, reason="Failed")
    Workload.objects.filter(pk=workload.pk).delete()
    assert services.reconcile().orphans_removed == 1
    assert cluster.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace(workload)).items == []
    assert cluster.apps.list_namespaced_deployment(namespace(workload)).items == []


def test_stop_deletes_the_objects_and_ends_stopped(workspace, kube_backend, cluster):
    workload = admitted(workspace, replicas=2)
    services.submit_workload(workload_id=workload.pk)
    pool_services.stop_workload(workload=workload, stopped_by=None)
    services.cancel_workload(workload_id=workload.pk)
    workload.refresh_from_db()
    assert workload.phase == Phase.STOPPED
    assert cluster.batch.list_namespaced_job(namespace(workload)).items == []
    assert cluster.core.list_namespaced_service(namespace(workload)).items == []


def test_running_workload_whose_objects_vanished_fails(workspace, kube_backend, cluster):
    workload = admitted(workspace)
    services.submit_workload(workload_id=workload.pk)
    start_pods(cluster, workload)
    assert phase_after_reconcile(workload) == Phase.RUNNING
    cluster.batch.delete_namespaced_job(job_name(workload), namespace(workload))
    for pod in cluster.core.list_namespaced_pod(namespace(workload)).items:
        cluster.core.delete_namespaced_pod(pod.metadata.name, namespace(workload))
    assert phase_after_reconcile(workload) == Phase.FAILED
    assert workload.reason == "ObjectsVanished"


def test_orphans_are_deleted_and_recent_finished_work_is_kept(workspace, kube_backend, cluster, settings):
    gone = admitted(workspace, name="gone")
    services.submit_workload(workload_id=gone.pk)
    recent = admitted(workspace, name="recent")
    services.submit_workload(workload_id=recent.pk)
    old = admitted(workspace, name="old")
    services.submit_workload(workload_id=old.pk)
    for workload in (recent, old):
        finish_job(cluster, workload, "Complete")
        pool_services.transition_workload(workload=workload, to=Phase.SUCCEEDED, reason="Completed")
    Workload.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=2))
    pool_services.transition_workload(workload=gone, to=Phase.FAILED, reason="Failed")
    Workload.objects.filter(pk=gone.pk).delete()
    stranger = str(uuid.uuid4())
    cluster.batch.create_namespaced_job(namespace(recent), {
        "metadata": {"name": "wl-stranger", "labels": {"app.kubernetes.io/managed-by": "aiplatform",
                                                       "aiplatform.io/workload-id": stranger}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}}})
    report = services.reconcile()
    assert report.orphans_removed == 3
    left = {j.metadata.name for j in cluster.batch.list_job_for_all_namespaces().items}
    assert left == {job_name(recent)}


def test_lost_submit_is_retried_by_the_reconciler(workspace, kube_backend, cluster):
    workload = admitted(workspace)
    Workload.objects.filter(pk=workload.pk).update(admitted_at=timezone.now() - timedelta(minutes=5))
    report = services.reconcile()
    assert report.resubmitted == [str(workload.pk)]


def test_nodes_are_labelled_and_tainted_when_they_join_a_dedicated_pool(kube_backend, cluster):
    cluster.core.create_node({"metadata": {"name": "npu-7", "labels": {"zone": "a"}},
                              "spec": {"taints": [{"key": "huawei.com/Ascend910", "effect": "NoSchedule"}]}})
    services.place_node(node_name="npu-7", pool_name="team-a", dedicated=True)
    node = cluster.core.read_node("npu-7")
    assert node.metadata.labels == {"zone": "a", "aiplatform.io/pool": "team-a"}
    assert [(t.key, t.value) for t in node.spec.taints] == [
        ("huawei.com/Ascend910", None), ("aiplatform.io/dedicated", "team-a")]
    services.release_node(node_name="npu-7")
    node = cluster.core.read_node("npu-7")
    assert not node.metadata.labels.get("aiplatform.io/pool")
    assert [t.key for t in node.spec.taints] == ["huawei.com/Ascend910"]
    services.place_node(node_name="not-in-the-cluster", pool_name="team-a", dedicated=False)


def test_admission_submits_through_the_receiver(workspace, kube_backend, cluster, eager_tasks,
                                                django_capture_on_commit_callbacks):
    pool = make_pool(kind="dedicated", account=workspace.account, nodes=1)
    make_workload(workspace, pool, image="registry.local/train:1", command=["python", "train.py"])
    with django_capture_on_commit_callbacks(execute=True):
        admit_workloads()
    job = cluster.batch.list_job_for_all_namespaces().items[0]
    assert job.spec.template.spec.tolerations[0].key == "aiplatform.io/dedicated"


@pytest.mark.django_db(transaction=True)
def test_two_reconcilers_at_once_act_once(kube_backend, cluster):
    workspace = WorkspaceFactory()
    workloads = [admitted(workspace, pool=make_pool(name=f"p-{i}", nodes=1), name=f"w{i}") for i in range(3)]
    for workload in workloads:
        services.submit_workload(workload_id=workload.pk)
        start_pods(cluster, workload)
    errors, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            services.reconcile()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    services.reconcile()
    assert set(Workload.objects.values_list("phase", flat=True)) == {Phase.RUNNING}
    assert WorkloadEvent.objects.filter(reason="Running").count() == 3


def test_serving_past_its_max_runtime_fails_and_is_removed(workspace, kube_backend, cluster):
    workload = admitted(workspace, kind="inference", max_runtime_seconds=600)
    services.submit_workload(workload_id=workload.pk)
    base = base_name(str(workload.pk))
    cluster.apps.patch_namespaced_deployment_status(f"{base}-worker", namespace(workload),
                                                    {"status": {"availableReplicas": 1}})
    assert phase_after_reconcile(workload) == Phase.RUNNING
    Workload.objects.filter(pk=workload.pk).update(admitted_at=timezone.now() - timedelta(minutes=30))
    assert phase_after_reconcile(workload) == Phase.FAILED
    assert (workload.reason, workload.message) == (
        "DeadlineExceeded", "It ran longer than its max runtime of 600 s and was stopped.")
    assert cluster.apps.list_namespaced_deployment(namespace(workload)).items == []


def test_a_stop_whose_cancel_was_lost_is_finished_by_the_reconciler(workspace, kube_backend, cluster, eager_tasks,
                                                                    django_capture_on_commit_callbacks):
    workload = admitted(workspace)
    services.submit_workload(workload_id=workload.pk)
    pool_services.stop_workload(workload=workload, stopped_by=None)  # its cancel task never ran
    with django_capture_on_commit_callbacks(execute=True):  # the pass's cancel goes out through the outbox
        assert phase_after_reconcile(workload) == Phase.STOPPING
    workload.refresh_from_db()
    assert workload.phase == Phase.STOPPED
    assert cluster.batch.list_namespaced_job(namespace(workload)).items == []


@pytest.mark.django_db(transaction=True)
def test_the_watch_loop_reconciles_when_the_cluster_reports_a_change(kube_backend, cluster):
    workload = admitted(WorkspaceFactory())
    services.submit_workload(workload_id=workload.pk)
    start_pods(cluster, workload)

    def watch_once():
        # No idle passes: only a watch event can start the one pass it makes.
        try:
            call_command("watch_workloads", passes=1, idle_seconds=3600, stdout=io.StringIO())
        finally:
            connections.close_all()

    runner = threading.Thread(target=watch_once, daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    workload.refresh_from_db()
    assert workload.phase == Phase.RUNNING


def test_logs_answer_503_when_the_cluster_cannot_be_reached(workspace, developer_client, settings, tmp_path):
    workload = admitted(workspace)
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig("http://127.0.0.1:1"))  # nothing listens there
    settings.COMPUTE_BACKEND, settings.KUBECONFIG, settings.K8S_REQUEST_TIMEOUT = "kubernetes", str(path), 2
    clear_backend_cache()
    developer_client.raise_request_exception = False  # a 5xx is reported as an error; answer it here
    try:
        response = developer_client.get(f"/api/v1/workspaces/{workspace.pk}/workloads/{workload.pk}/logs/")
    finally:
        clear_backend_cache()
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "backend_unavailable"


def test_adding_and_removing_a_pool_node_labels_and_releases_it(workspace, kube_backend, cluster, eager_tasks,
                                                                django_capture_on_commit_callbacks):
    cluster.core.create_node({"metadata": {"name": "npu-9"}})
    pool = make_pool(name="team-b", kind="dedicated", account=workspace.account, nodes=0)
    with django_capture_on_commit_callbacks(execute=True):
        node = pool_services.add_node(pool=pool, name="npu-9", flavor=FlavorFactory())
    labelled = cluster.core.read_node("npu-9")
    # Dedicated pools' names repeat across accounts: nodes carry the pool's unique placement label.
    assert pool.placement_label.startswith("team-b-")
    assert labelled.metadata.labels == {"aiplatform.io/pool": pool.placement_label}
    assert [(t.key, t.value, t.effect) for t in labelled.spec.taints] == [
        ("aiplatform.io/dedicated", pool.placement_label, "NoSchedule")]
    with django_capture_on_commit_callbacks(execute=True):
        pool_services.remove_node(node=node)
    released = cluster.core.read_node("npu-9")
    assert not released.metadata.labels.get("aiplatform.io/pool") and not released.spec.taints


def test_a_running_service_with_unready_instances_is_concerning_until_they_recover(
        workspace, developer_client, kube_backend, cluster):
    from inference.models import Model, Service
    from inference.serializers import service_status

    flavor = FlavorFactory()
    workload = pool_services.create_workload(
        workspace=workspace, pool=make_pool(nodes=2, flavor=flavor), name="chat", kind="inference",
        image="registry.local/serve:1", pod_sets=[{"name": "server", "replicas": 2, "flavor": flavor}])
    admit_workloads()
    services.submit_workload(workload_id=workload.pk)
    name, ns = f"{base_name(str(workload.pk))}-server", namespace(workload)
    cluster.apps.patch_namespaced_deployment_status(name, ns, {"status": {"availableReplicas": 2}})
    assert phase_after_reconcile(workload) == Phase.RUNNING
    cluster.apps.patch_namespaced_deployment_status(name, ns, {"status": {"availableReplicas": 1}})
    assert phase_after_reconcile(workload) == Phase.RUNNING
    assert (workload.reason, workload.message) == (
        "InstancesUnhealthy", "Some instances are not ready: server: 1 of 2 instances ready.")
    model = Model.objects.create(workspace=workspace, name="chat", source="image", image="registry.local/serve:1",
                                 command=["serve"], runtime="custom")
    service = Service.objects.create(workspace=workspace, name="chat", model=model, pool=workload.pool,
                                     flavor=flavor, workload=workload)
    assert service_status(service)["status"] == "concerning"
    cluster.apps.patch_namespaced_deployment_status(name, ns, {"status": {"availableReplicas": 2}})
    assert phase_after_reconcile(workload) == Phase.RUNNING
    assert workload.reason == "InstancesRecovered"
    service.workload.refresh_from_db()
    assert service_status(service)["status"] == "running"
    reasons = [e["reason"] for e in developer_client.get(
        f"/api/v1/workspaces/{workspace.pk}/workloads/{workload.pk}/events/").json()["results"]]
    assert reasons[-2:] == ["InstancesUnhealthy", "InstancesRecovered"]
