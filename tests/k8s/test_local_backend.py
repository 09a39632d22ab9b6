"""LocalBackend with real child processes: success, failure, cancel, max runtime, ranks, restarts."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from k8s.backend import FAILED, RUNNING, STOPPED, SUCCEEDED, PodSetSpec, UnknownReplica, WorkloadSpec
from k8s.local_backend import LocalBackend


def spec(command, replicas=1, max_runtime=None, env=(), kind="training", accelerators=0):
    return WorkloadSpec(
        id=str(uuid.uuid4()), workspace_id=str(uuid.uuid4()), name="job", kind=kind, pool_name="local",
        dedicated_pool=False, image="", command=tuple(command), env=tuple(env), max_runtime_seconds=max_runtime,
        pod_sets=(PodSetSpec(name="worker", replicas=replicas, vcpus=1, memory_gib=1, accelerators=accelerators,
                             accelerator_kind="none"),),
    )


def wait_for(backend, workload, states, timeout=20):
    """Poll until the observed state is one of `states` (the bound only stops a hung test)."""
    give_up = time.monotonic() + timeout
    while True:
        observation = backend.status(workload)
        if observation and observation.state in states:
            return observation
        assert time.monotonic() < give_up, observation
        time.sleep(0.05)


def live_group_members(pgid):
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state not in "ZX":
            members.append(stat.parent.name)
    return members


@pytest.fixture
def backend(tmp_path):
    backend = LocalBackend(base_dir=tmp_path)
    yield backend
    for observation in backend.list_owned().values():
        backend.remove(observation)


def test_success_with_logs(backend):
    workload = spec(["sh", "-c", "echo hello; echo rank=$RANK world=$WORLD_SIZE"])
    assert backend.submit(workload) is True
    observation = wait_for(backend, workload, {SUCCEEDED})
    assert observation.replicas == ["worker-0"]
    assert list(backend.logs(workload)) == ["hello\n", "rank=0 world=1\n"]
    assert list(backend.logs(workload, tail=1)) == ["rank=0 world=1\n"]


def test_duplicate_submit_adopts_the_first(backend):
    workload = spec(["sleep", "5"])
    assert backend.submit(workload) is True
    assert backend.submit(workload) is False
    assert len(backend.list_owned()) == 1
    backend.cancel(workload)


def test_failure_exit_code_fails_the_gang_in_plain_words(backend):
    workload = spec(["sh", "-c", 'if [ "$RANK" = 1 ]; then exit 3; fi; sleep 30'], replicas=2)
    backend.submit(workload)
    observation = wait_for(backend, workload, {FAILED})
    assert observation.reason == "ReplicaFailed"
    assert observation.message == "Replica worker-1 exited with code 3. See its logs."
    # The other replica is stopped with it.
    wait_for(backend, workload, {FAILED})
    give_up = time.monotonic() + 20
    while backend._live_pids(backend._dir(workload.id), ["worker-0"]):
        assert time.monotonic() < give_up
        time.sleep(0.05)
        backend.status(workload)
    assert backend.status(workload).message == "Replica worker-1 exited with code 3. See its logs."


def sleeps(members):
    return [m for m in members if Path(f"/proc/{m}/cmdline").read_bytes().startswith(b"sleep\0")]


def test_cancel_signals_the_process_group(backend):
    workload = spec(["sh", "-c", "sleep 60 & sleep 60"])
    backend.submit(workload)
    wait_for(backend, workload, {RUNNING})
    pid = int(__import__("json").loads((backend._dir(workload.id) / "worker-0.json").read_text())["pid"])
    give_up = time.monotonic() + 20
    while len(sleeps(live_group_members(pid))) < 2:  # the shell's last sleep and the backgrounded one
        assert time.monotonic() < give_up
        time.sleep(0.05)
    backend.cancel(workload)
    assert backend.status(workload).state == STOPPED
    give_up = time.monotonic() + 20
    while live_group_members(pid):  # the whole group, the backgrounded sleep included, ends
        assert time.monotonic() < give_up
        time.sleep(0.05)


def test_max_runtime_is_enforced(backend):
    workload = spec(["sleep", "60"], max_runtime=1)
    backend.submit(workload)
    observation = wait_for(backend, workload, {FAILED})
    assert observation.reason == "DeadlineExceeded"
    assert "max runtime of 1 s" in observation.message


def test_every_replica_gets_the_rank_environment(backend):
    workload = spec(["sh", "-c", "echo $NODE_RANK $RANK $NNODES $WORLD_SIZE $NPROC_PER_NODE $MASTER_ADDR:$MASTER_PORT"],
                    replicas=3, accelerators=2)
    backend.submit(workload)
    observation = wait_for(backend, workload, {SUCCEEDED})
    lines = {r: list(backend.logs(workload, replica=r))[0].split() for r in observation.replicas}
    assert [lines[f"worker-{i}"][:5] for i in range(3)] == [[str(i), str(i), "3", "6", "2"] for i in range(3)]
    assert len({line[5] for line in lines.values()}) == 1 and lines["worker-0"][5].startswith("127.0.0.1:")
    with pytest.raises(UnknownReplica):
        backend.logs(workload, replica="worker-9")


def test_platform_credentials_do_not_leak_and_secrets_resolve(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://secret")
    workload = spec(["sh", "-c", 'echo "db=$DATABASE_URL token=$HF_TOKEN"'], env=[("HF_TOKEN", "secret://hf/token")])
    # The workspace's secrets, as a Secret in its namespace on Kubernetes.
    (tmp_path / "secrets" / workload.workspace_id / "hf").mkdir(parents=True)
    (tmp_path / "secrets" / workload.workspace_id / "hf" / "token").write_text("tok-123")
    backend.submit(workload)
    wait_for(backend, workload, {SUCCEEDED})
    assert list(backend.logs(workload)) == ["db= token=tok-123\n"]


def test_follow_streams_until_the_replica_ends(backend):
    workload = spec(["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"])
    backend.submit(workload)
    assert list(backend.logs(workload, follow=True)) == ["line1\n", "line2\n", "line3\n"]


def test_state_survives_a_restart_of_the_process_that_started_it(tmp_path):
    workload = spec(["sh", "-c", "sleep 1; echo done; exit 4"])
    # Another process (an API or worker that then dies) submits it and exits at once.
    script = (
        "import sys, django; django.setup(); from k8s.local_backend import LocalBackend;"
        "from k8s.backend import WorkloadSpec, PodSetSpec;"
        f"spec = {workload!r}; LocalBackend(base_dir=sys.argv[1]).submit(spec)"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=os.getcwd(),
                   env={**os.environ, "DJANGO_SETTINGS_MODULE": "aiplatform.settings"})
    restarted = LocalBackend(base_dir=tmp_path)
    assert set(restarted.list_owned()) == {workload.id}
    observation = wait_for(restarted, workload, {FAILED})
    assert observation.message == "Replica worker-0 exited with code 4. See its logs."
    assert list(restarted.logs(workload)) == ["done\n"]


def test_a_serving_replica_that_exits_fails_the_service(backend):
    serving = spec(["sleep", "30"], kind="inference", replicas=2)
    backend.submit(serving)
    assert wait_for(backend, serving, {RUNNING}).replicas == ["worker-0", "worker-1"]
    backend.cancel(serving)
    exited = spec(["true"], kind="inference")
    backend.submit(exited)
    observation = wait_for(backend, exited, {FAILED})
    assert observation.reason == "ServerExited"
    assert observation.message.startswith("Replica worker-0 exited (code 0), but a serving replica must keep running")


def test_cancel_kills_what_outlives_its_grace(backend):
    # Stopping while the sandbox still starts, or a command that ignores SIGTERM: SIGKILL after the grace.
    workload = spec(["sh", "-c", "trap '' TERM; echo started; sleep 60"])
    backend.submit(workload)
    pid = int(__import__("json").loads((backend._dir(workload.id) / "worker-0.json").read_text())["pid"])
    give_up = time.monotonic() + 20
    while not list(backend.logs(workload)):
        assert time.monotonic() < give_up
        time.sleep(0.05)
    backend.cancel(workload)
    assert backend.status(workload).state == STOPPED
    while live_group_members(pid):  # SIGKILLed: gone as soon as the kernel has reaped them
        assert time.monotonic() < give_up, [Path(f"/proc/{m}/cmdline").read_bytes() for m in live_group_members(pid)]
        time.sleep(0.05)
