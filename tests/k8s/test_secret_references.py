"""Env values that name a secret (`secret://<secret>/<key>`): only a secret of the workload's own
workspace, by a name and key of Kubernetes' forms; never a host file, another workspace's secret or
the platform's own Secrets."""

import os
import uuid

import pytest

from k8s.backend import PodSetSpec, SubmitError, WorkloadSpec
from k8s.local_backend import LocalBackend
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.factories import cpu_flavor, make_pool

REFUSED = [
    "secret://x//proc/self/environ",  # joined to a host path before
    "secret://x/../../../var/secret-key",
    "secret://../secret-key",
    "secret://hf",  # no key
    "secret://hf/",
    "secret://HF/token",  # not a DNS name
    "secret://hf/to/ken",
    "secret://hf/..",
    "secret://wl-0123456789abcdef0123-runtime/AIP_JOB_TOKEN",  # another workload's runtime secrets
]


@pytest.mark.django_db
def test_env_values_that_are_no_secret_of_the_workspace_are_refused_by_name(workspace, developer_client):
    pool = make_pool(nodes=1, flavor=cpu_flavor())
    for value in REFUSED:
        body = {"name": "probe", "pool": str(pool.pk), "image": "busybox", "command": ["env"],
                "env": {"MODE": "sft", "LEAK": value},
                "pod_sets": [{"name": "worker", "replicas": 1, "flavor": "cpu.8u32g"}]}
        response = developer_client.post(f"/api/v1/workspaces/{workspace.pk}/workloads/", body, format="json")
        assert response.status_code == 400, (value, response.json())
        [error] = response.json()["errors"]
        assert error["attr"] == "env.LEAK"
        words = "the platform's own" if value.startswith("secret://wl-") else "secret://<secret name>/<key>"
        assert words in error["detail"], (value, error)
    assert not Workload.objects.exists()


@pytest.mark.django_db
def test_a_pod_sets_env_is_checked_too_and_good_references_pass(workspace):
    pool = make_pool(nodes=1, flavor=cpu_flavor())
    pod_set = {"name": "worker", "replicas": 1, "flavor": cpu_flavor(), "env": {"TOKEN": "secret://x//etc/shadow"}}
    with pytest.raises(pool_services.ValidationError) as refused:
        pool_services.create_workload(workspace=workspace, pool=pool, name="job", pod_sets=[pod_set])
    assert list(refused.value.detail) == ["pod_sets.0.env.TOKEN"]
    pod_set["env"] = {"TOKEN": "secret://hf-token.v2/api_key-1.txt"}
    workload = pool_services.create_workload(workspace=workspace, pool=pool, name="job", pod_sets=[pod_set],
                                             env={"PLAIN": "secret is a word", "EMPTY": ""})
    assert workload.phase == Phase.QUEUED


def spec(env, workspace_id=None):
    return WorkloadSpec(
        id=str(uuid.uuid4()), workspace_id=workspace_id or str(uuid.uuid4()), name="job", kind="training",
        pool_name="local", dedicated_pool=False, image="", command=("sh", "-c", 'echo "token=$TOKEN"'),
        env=tuple(env), max_runtime_seconds=None,
        pod_sets=(PodSetSpec(name="worker", replicas=1, vcpus=1, memory_gib=1, accelerators=0,
                             accelerator_kind="none"),),
    )


@pytest.fixture
def backend(tmp_path):
    backend = LocalBackend(base_dir=tmp_path / "local-backend")
    yield backend
    for observation in backend.list_owned().values():
        backend.remove(observation)


def test_the_local_backend_reads_only_the_workspaces_own_secrets(backend, tmp_path):
    """A workload made before references were checked still cannot read a host file, another
    workspace's secret, or follow a link out of its folder; and the refusal names no host path."""
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    secrets = backend.base_dir / "secrets"
    (secrets / theirs / "hf").mkdir(parents=True)
    (secrets / theirs / "hf" / "token").write_text("their token")
    (secrets / mine / "linked").mkdir(parents=True)
    (secrets / mine / "linked" / "token").symlink_to("/etc/hostname")
    (secrets / mine / "fifo").mkdir()
    os.mkfifo(secrets / mine / "fifo" / "token")  # opening it must not hang the submit
    (secrets / mine / "escape").symlink_to(secrets / theirs / "hf")
    for value, words in [
        ("secret://x//proc/self/environ", "Write a secret reference as secret://<secret name>/<key>"),
        ("secret://x/../../../../../etc/hostname", "Write a secret reference as"),
        ("secret://wl-0123-runtime/AIP_JOB_TOKEN", "the platform's own"),
        ("secret://hf/token", "which is not found among the workspace's secrets"),  # theirs, not mine
        ("secret://linked/token", "which is not found"),
        ("secret://escape/token", "which is not found"),
        ("secret://fifo/token", "which is not found"),
    ]:
        workload = spec([("TOKEN", value)], workspace_id=mine)
        with pytest.raises(SubmitError, match=words) as refused:
            backend.submit(workload)
        assert str(tmp_path) not in str(refused.value) and "/proc" not in str(refused.value).replace(value, "")
        assert backend.status(workload) is None


@pytest.mark.django_db
def test_the_cluster_refuses_an_old_workload_naming_the_platforms_secrets(workspace, kube_backend, cluster):
    from k8s import services as compute

    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = pool_services.create_workload(
        workspace=workspace, pool=pool, name="old", image="busybox", command=["env"],
        pod_sets=[{"name": "worker", "replicas": 1, "flavor": cpu_flavor()}])
    # As a row made before references were checked could hold it.
    Workload.objects.filter(pk=workload.pk).update(env={"TOKEN": "secret://wl-0123456789abcdef0123-runtime/TOKEN"})
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk) is False
    workload.refresh_from_db()
    assert (workload.phase, workload.reason) == (Phase.FAILED, "SubmitFailed")
    assert "env TOKEN: Secrets named 'wl-…' are the platform's own" in workload.message
    assert not cluster.batch.list_namespaced_job(f"aip-ws-{workspace.pk}").items
