"""The local backend's sandbox with real processes and real bubblewrap: what a replica sees,
reaches and may write, and the refusal where no sandbox can be made."""

import json
import os
import random
import resource
import shutil
import socket
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from aiplatform.storage import StorageBinding
from k8s import services
from k8s.backend import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    BackendUnavailable,
    PodSetSpec,
    SubmitError,
    WorkloadSpec,
    clear_backend_cache,
)
from k8s.local_backend import LocalBackend
from k8s.sandbox import Sandbox, User, _give, hosts_file_text
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase
from tests.factories import cpu_flavor, make_pool, make_workload

PYTHON = sys.executable


def spec(command, *, workspace_id=None, kind="training", storage=(), env=(), secrets=(), replicas=1,
         accelerators=0, accelerator_kind="none"):
    return WorkloadSpec(
        id=str(uuid.uuid4()), workspace_id=workspace_id or str(uuid.uuid4()), name="job", kind=kind,
        pool_name="local", dedicated_pool=False, image="", command=tuple(command), env=tuple(env),
        max_runtime_seconds=None, storage=tuple(storage), secrets=tuple(secrets),
        pod_sets=(PodSetSpec(name="worker", replicas=replicas, vcpus=2, memory_gib=1, accelerators=accelerators,
                             accelerator_kind=accelerator_kind),),
    )


def finished(backend, workload, states=(SUCCEEDED, FAILED), timeout=60):
    """The observation once the workload reaches `states`, and its first replica's log lines
    (the bound only stops a hung test)."""
    give_up = time.monotonic() + timeout
    while True:
        observation = backend.status(workload)
        if observation and observation.state in states:
            return observation, [line.rstrip("\n") for line in backend.logs(workload)]
        assert time.monotonic() < give_up, observation
        time.sleep(0.05)


def answers(lines) -> dict:
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def state(settings):
    """The platform's state where a default installation keeps it: inside var/, itself inside the
    project's code, which sandboxes see read-only. Workspaces' users come from a block of uids of
    the test's own (tests that run at once must not share a user's process count)."""
    root = Path(django_settings.VAR_DIR) / f"test-sandbox-{uuid.uuid4().hex[:12]}"
    settings.LOCAL_BACKEND_DIR = root / "local-backend"
    settings.LOCAL_STORAGE_ROOT = root / "storage"
    first = 1879048192 + 1000 * random.randrange(1, 65)
    settings.LOCAL_BACKEND_SANDBOX_UIDS = f"{first}-{first + 999}"
    settings.LOCAL_STORAGE_ROOT.mkdir(parents=True)
    (root / "platform-secret.txt").write_text("database password")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def backend(state, settings):
    settings.COMPUTE_BACKEND = "local"
    clear_backend_cache()
    backend = LocalBackend()
    yield backend
    for observation in backend.list_owned().values():
        backend.remove(observation)
    clear_backend_cache()


def own_storage(workspace_id, writable=True):
    return StorageBinding(uri=f"file://ws-{workspace_id}/", writable=writable)


class Recorder(BaseHTTPRequestHandler):
    """Stands in for the platform's API: answers every request and keeps its path."""

    seen: list = []

    def do_GET(self):
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def platform(settings):
    """An HTTP server at PLATFORM_URL (on every local address, as the API would be)."""
    server = ThreadingHTTPServer(("0.0.0.0", 0), Recorder)
    Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.PLATFORM_URL = f"http://127.0.0.1:{server.server_port}"
    yield Recorder.seen
    server.shutdown()
    server.server_close()


def test_a_replica_is_unprivileged_and_sees_nothing_of_the_platform(backend, state, settings):
    own, other = str(uuid.uuid4()), str(uuid.uuid4())
    other_files = settings.LOCAL_STORAGE_ROOT / f"ws-{other}"
    other_files.mkdir()
    (other_files / "private.txt").write_text("another tenant's data")
    neighbour = spec(["sleep", "30"], workspace_id=other, storage=[own_storage(other)])
    backend.submit(neighbour)
    neighbour_dir = backend._dir(neighbour.id)
    with socket.create_connection(("127.0.0.1", 5432), timeout=5):
        pass  # PostgreSQL answers on this machine: the sandbox must not reach it
    script = f"""
        echo uid=$(id -u)
        echo gid=$(id -g)
        echo var_entries=$(ls -A {django_settings.VAR_DIR} | wc -l)
        test -e {state / "platform-secret.txt"} && echo platform_secret=visible || echo platform_secret=hidden
        test -e {neighbour_dir} && echo neighbour=visible || echo neighbour=hidden
        test -e {other_files} && echo other_storage=visible || echo other_storage=hidden
        test -e /aip/storage/ws-{other} && echo other_mount=visible || echo other_mount=hidden
        echo processes=$(ls /proc | grep -c '^[0-9]')
        test -e /proc/{os.getpid()}/environ && echo test_process=visible || echo test_process=hidden
        echo init=$(tr '\\0' '\\n' < /proc/1/cmdline | head -1)
        {PYTHON} -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 3)' 2>/dev/null \\
            && echo postgresql=reached || echo postgresql=unreachable
        for target in {django_settings.BASE_DIR}/planted /usr/planted /aip/planted /aip/storage/planted /etc/planted; do
            touch $target 2>/dev/null && echo "wrote $target"
        done
        mkdir -p /aip/storage/ws-{own}/out && echo result > /aip/storage/ws-{own}/out/written \
            && echo own_storage=written
        touch /aip/work/scratch && echo workdir=written
        touch /tmp/{own} && echo tmp=written
        echo database_url=${{DATABASE_URL:-none}} home=$HOME storage_root=$AIP_LOCAL_STORAGE_ROOT
    """
    workload = spec(["sh", "-c", script], workspace_id=own, storage=[own_storage(own)])
    assert backend.submit(workload) is True
    observation, lines = finished(backend, workload)
    assert observation.state == SUCCEEDED, lines
    assert not [line for line in lines if line.startswith("wrote ")], lines
    seen = answers(lines)
    users = json.loads((backend.base_dir / "sandbox-users.json").read_text())
    first, last = map(int, settings.LOCAL_BACKEND_SANDBOX_UIDS.split("-"))
    assert users[other] != users[own] and first <= users[own] <= last  # a user per workspace
    assert seen == {
        "uid": str(users[own]), "gid": str(users[own]),
        "var_entries": "0", "platform_secret": "hidden", "neighbour": "hidden",
        "other_storage": "hidden", "other_mount": "hidden",
        "processes": seen["processes"], "test_process": "hidden",
        "init": shutil.which(django_settings.LOCAL_BACKEND_BWRAP),
        "postgresql": "unreachable",
        "own_storage": "written", "workdir": "written", "tmp": "written",
        "database_url": "none home=/aip/work storage_root=/aip/storage",
    }
    assert int(seen["processes"]) <= 5  # bwrap's init, the shell and what it runs now
    written = settings.LOCAL_STORAGE_ROOT / f"ws-{own}" / "out" / "written"
    assert written.read_text() == "result\n" and written.stat().st_uid == users[own]
    assert not Path(f"/tmp/{own}").exists()
    for planted in (django_settings.BASE_DIR / "planted", Path("/usr/planted"), Path("/etc/planted")):
        assert not planted.exists()


def test_read_only_storage_and_links_out_of_a_location(backend, settings):
    own, shared = str(uuid.uuid4()), str(uuid.uuid4())
    (settings.LOCAL_STORAGE_ROOT / f"ws-{shared}").mkdir()
    (settings.LOCAL_STORAGE_ROOT / f"ws-{shared}" / "data.txt").write_text("shared data")
    script = f"""
        echo read=$(cat /aip/storage/ws-{shared}/data.txt)
        echo more > /aip/storage/ws-{shared}/data.txt 2>/dev/null && echo write=allowed || echo write=refused
    """
    workload = spec(["sh", "-c", script], workspace_id=own, storage=[own_storage(own), own_storage(shared, False)])
    backend.submit(workload)
    observation, lines = finished(backend, workload)
    assert answers(lines) == {"read": "shared data", "write": "refused"}
    assert (settings.LOCAL_STORAGE_ROOT / f"ws-{shared}" / "data.txt").stat().st_uid == 0  # not handed over
    # A location that is a link (say, one sandboxed code left for a later workload) is not mounted.
    linked = str(uuid.uuid4())
    (settings.LOCAL_STORAGE_ROOT / f"ws-{linked}").symlink_to("/etc")
    refused = spec(["true"], workspace_id=linked, storage=[own_storage(linked)])
    with pytest.raises(SubmitError, match=f"storage location file://ws-{linked}/ cannot be mounted"):
        backend.submit(refused)
    assert backend.status(refused) is None


def test_limits_apply_to_the_replica(backend):
    workload = spec(["cat", "/proc/self/limits"])
    backend.submit(workload)
    _, lines = finished(backend, workload)
    limits = {line[:26].strip(): line[26:].split()[:2] for line in lines[1:]}
    nofile = min(django_settings.LOCAL_BACKEND_SANDBOX_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    assert limits["Max open files"] == [str(nofile), str(nofile)]
    assert limits["Max core file size"] == ["0", "0"]
    assert int(limits["Max processes"][1]) <= django_settings.LOCAL_BACKEND_SANDBOX_NPROC


def test_accelerator_replicas_see_the_drivers_view_of_the_machine(backend):
    gpu = spec(["sh", "-c", "test -d /sys/class && echo sys=visible || echo sys=hidden"], accelerators=1,
               accelerator_kind="nvidia_gpu")
    cpu = spec(["sh", "-c", "test -d /sys/class && echo sys=visible || echo sys=hidden"])
    for workload in (gpu, cpu):
        backend.submit(workload)
    assert answers(finished(backend, gpu)[1]) == {"sys": "visible"}
    assert answers(finished(backend, cpu)[1]) == {"sys": "hidden"}


def test_runtime_secrets_reach_the_sandboxed_process_only(backend):
    token = "tok-" + uuid.uuid4().hex
    workload = spec(["sh", "-c", 'echo "token=$AIP_JOB_TOKEN"; sleep 2'], secrets=[("AIP_JOB_TOKEN", token)])
    assert token not in repr(workload)
    backend.submit(workload)
    pid = json.loads((backend._dir(workload.id) / "worker-0.json").read_text())["pid"]
    give_up = time.monotonic() + 20
    while not list(backend.logs(workload)):
        assert time.monotonic() < give_up
        time.sleep(0.05)
    # While it runs: no command line of its processes, and no environment on the platform's side
    # (root: the wrapper, prlimit, nsenter, bwrap), holds the token.
    members = [p for p in Path("/proc").glob("[0-9]*") if _in_group(p, pid)]
    assert len(members) >= 4
    for process in members:
        assert token.encode() not in (process / "cmdline").read_bytes()
        if process.stat().st_uid == 0:
            assert token.encode() not in (process / "environ").read_bytes()
    _, lines = finished(backend, workload)
    assert answers(lines) == {"token": token}
    stored = [p for p in backend._dir(workload.id).rglob("*") if p.is_file() and p.suffix != ".log"]
    assert stored and not [p for p in stored if token.encode() in p.read_bytes()]


def test_a_signing_key_file_in_a_folder_the_sandbox_sees_is_covered(backend, settings, tmp_path):
    """SECRET_KEY_FILE may lie anywhere (e.g. /etc, which sandboxes see read-only): it reads empty."""
    key_file = Path("/etc") / f"aip-test-key-{uuid.uuid4().hex[:8]}"
    key_file.write_text("k" * 60)
    key_file.chmod(0o644)  # readable by anyone on the host: only the sandbox's cover keeps it
    settings.SECRET_KEY_FILE = key_file
    try:
        workload = spec(["sh", "-c", f'echo "key=$(cat {key_file})"'])
        backend.submit(workload)
        _, lines = finished(backend, workload)
    finally:
        key_file.unlink()
    assert answers(lines) == {"key": ""}


def test_a_command_that_is_not_there_fails_in_plain_words(backend):
    workload = spec(["no-such-trainer", "--epochs=1"])
    backend.submit(workload)
    observation, lines = finished(backend, workload)
    assert observation.message == ("Replica worker-0 could not start its command (not found, exit code 127). "
                                   "See its logs.")
    assert lines == ["cannot run no-such-trainer: No such file or directory"]


def _in_group(process: Path, pgid: int) -> bool:
    try:
        return int((process / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid
    except (OSError, ValueError):
        return False


def test_the_workloads_environment_cannot_steer_the_platforms_side(backend, settings):
    """Its env is the tenant's (PATH included): if the wrapper, prlimit, nsenter or bwrap ran with
    it, they would run the tenant's files as root."""
    own = str(uuid.uuid4())
    tools = settings.LOCAL_STORAGE_ROOT / f"ws-{own}" / "bin"
    tools.mkdir(parents=True)
    marker = Path(f"/tmp/hijacked-{own}")
    for name in ("prlimit", "nsenter", "bwrap", "setpriv", "sh", "python3", "true"):
        (tools / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (tools / name).chmod(0o755)
    workload = spec(["sh", "-c", "echo ran=yes"], workspace_id=own, storage=[own_storage(own)],
                    env=[("PATH", f"{tools}:/usr/bin:/bin"), ("LD_LIBRARY_PATH", str(tools))])
    backend.submit(workload)
    observation, lines = finished(backend, workload)
    assert observation.state == SUCCEEDED and answers(lines) == {"ran": "yes"}
    assert not marker.exists()


def test_a_serving_replica_answers_at_its_endpoint_and_only_its_workspace_reaches_it(backend):
    workspace = str(uuid.uuid4())
    server = spec(["sh", "-c", f'echo served by $(hostname) > page; exec {PYTHON} -m http.server --bind '
                               '"$AIP_SERVE_HOST" "$AIP_SERVE_PORT"'],
                  kind="inference", workspace_id=workspace, replicas=2)
    backend.submit(server)
    urls = []
    give_up = time.monotonic() + 30
    while len(urls) < 2:
        urls = backend.endpoints(server, "worker")
        assert time.monotonic() < give_up
        time.sleep(0.05)
    pages = set()
    for url in urls:
        while True:  # the server starts after its sandbox (a closed connection meanwhile)
            try:
                pages.add(urllib.request.urlopen(f"{url}/page", timeout=5).read().decode().strip())
                break
            except OSError:
                assert time.monotonic() < give_up
                time.sleep(0.1)
    assert len(pages) == 2 and all(p.startswith("served by") for p in pages)
    assert backend.status(server).state == RUNNING
    probe = (f"import urllib.request; print('reached=' + str(urllib.request.urlopen('{urls[0]}/page', timeout=5)"
             ".status))")
    same = spec([PYTHON, "-c", probe], workspace_id=workspace)
    other = spec(["sh", "-c", f"{PYTHON} -c \"{probe}\" 2>/dev/null || echo reached=no"])
    for workload in (same, other):
        backend.submit(workload)
    assert answers(finished(backend, same)[1]) == {"reached": "200"}
    assert answers(finished(backend, other)[1]) == {"reached": "no"}


def test_replicas_of_a_workload_share_their_network_for_the_rendezvous(backend, platform):
    rendezvous = (
        "import os, socket\n"
        "port = int(os.environ['MASTER_PORT'])\n"
        "if os.environ['RANK'] == '0':\n"
        "    server = socket.create_server(('127.0.0.1', port))\n"
        "    connection, _ = server.accept()\n"
        "    print('heard=' + connection.recv(100).decode())\n"
        "else:\n"
        "    import time\n"
        "    for _ in range(300):\n"
        "        try:\n"
        "            socket.create_connection(('127.0.0.1', port)).sendall(b'rank 1')\n"
        "            break\n"
        "        except OSError:\n"
        "            time.sleep(0.05)\n"
    )
    workload = spec([PYTHON, "-c", rendezvous], replicas=2)
    backend.submit(workload)
    observation, lines = finished(backend, workload)
    assert observation.state == SUCCEEDED and answers(lines) == {"heard": "rank 1"}


def test_the_platform_is_reached_by_address_or_by_name(backend, platform, settings):
    call = [PYTHON, "-c", "import os, urllib.request; print('status=' + str(urllib.request.urlopen("
                          "os.environ['TARGET'], timeout=5).status))"]
    by_address = spec(call, env=[("TARGET", f"{settings.PLATFORM_URL}/api/v1/by-address/")])
    backend.submit(by_address)
    assert answers(finished(backend, by_address)[1]) == {"status": "200"}
    # By the machine's name, on a port below 1024 (as behind a proxy on port 80).
    port = next(p for p in range(80, 1024) if _free(p))
    server = ThreadingHTTPServer(("0.0.0.0", port), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.PLATFORM_URL = f"http://{_local_name()}:{port}"
        by_name = spec(call, env=[("TARGET", f"{settings.PLATFORM_URL}/api/v1/by-name/")])
        backend.submit(by_name)
        assert answers(finished(backend, by_name)[1]) == {"status": "200"}
    finally:
        server.shutdown()
        server.server_close()
    assert platform == ["/api/v1/by-address/", "/api/v1/by-name/"]


def _local_name() -> str:
    """This machine's name where it resolves here (the sandbox's /etc/hosts must then map it),
    else localhost."""
    try:
        socket.gethostbyname(socket.gethostname())
    except OSError:
        return "localhost"
    return socket.gethostname()


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def test_forwarders_end_with_the_last_replica_by_themselves(backend, platform):
    workload = spec(["sh", "-c", 'if [ "$RANK" = 1 ]; then sleep 1; fi'], replicas=2)
    backend.submit(workload)
    network = json.loads((backend._dir(workload.id) / "network.json").read_text())["processes"]
    assert len(network) == 2 and all(_alive(p["pid"]) for p in network)
    give_up = time.monotonic() + 20
    while not (backend._dir(workload.id) / "worker-0.exit").exists():
        assert time.monotonic() < give_up
        time.sleep(0.05)
    assert all(_alive(p["pid"]) for p in network)  # worker-1 still needs them
    while any(_alive(p["pid"]) for p in network):  # nobody asks the backend anything meanwhile
        assert time.monotonic() < give_up
        time.sleep(0.05)
    assert backend.status(workload).state == SUCCEEDED


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def _log_lines(backend, workload, wanted: str, replica=None, timeout=30):
    """The replica's log once a line starts with `wanted` (the bound only stops a hung test)."""
    give_up = time.monotonic() + timeout
    while True:
        lines = [line.rstrip("\n") for line in backend.logs(workload, replica=replica)]
        if any(line.startswith(wanted) for line in lines):
            return lines
        assert time.monotonic() < give_up, (lines, backend.status(workload))
        time.sleep(0.05)


def test_a_reached_service_is_reached_through_its_own_socket_never_whatever_takes_its_port_later(backend, settings):
    """A benchmark reaches its workspace's service at the service's host port; when the service
    ends and another tenant's replica takes that port, the benchmark must not reach it."""
    workspace = str(uuid.uuid4())
    server = spec(["sh", "-c", f'echo served > page; exec {PYTHON} -m http.server --bind "$AIP_SERVE_HOST" '
                               '"$AIP_SERVE_PORT"'], kind="inference", workspace_id=workspace)
    backend.submit(server)
    give_up = time.monotonic() + 30
    while not (urls := backend.endpoints(server, "worker")):
        assert time.monotonic() < give_up
        time.sleep(0.05)
    port = int(urls[0].rsplit(":", 1)[1])
    client = spec([PYTHON, "-c", f"""
import os, time, urllib.request
def get():
    for _ in range(100):  # the server starts after its sandbox: a closed connection meanwhile
        try:
            return urllib.request.urlopen("{urls[0]}/page", timeout=5).read().decode().strip()
        except OSError:
            time.sleep(0.1)
    return "unreachable"
print("first=" + get(), flush=True)
while not os.path.exists("/aip/storage/ws-{workspace}/go"):
    time.sleep(0.05)
try:
    print("second=" + urllib.request.urlopen("{urls[0]}/page", timeout=5).read().decode().strip())
except OSError:
    print("second=unreachable")
"""], workspace_id=workspace, storage=[own_storage(workspace)])
    backend.submit(client)
    _log_lines(backend, client, "first=")
    backend.cancel(server)
    # Another tenant's replica takes the freed port (here a server of the test's own).
    while True:
        try:
            impostor = ThreadingHTTPServer(("127.0.0.1", port), Recorder)
            break
        except OSError:
            assert time.monotonic() < give_up + 30
            time.sleep(0.05)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        (settings.LOCAL_STORAGE_ROOT / f"ws-{workspace}" / "go").touch()
        observation, lines = finished(backend, client)
    finally:
        impostor.shutdown()
        impostor.server_close()
    assert answers(lines) == {"first": "served", "second": "unreachable"}


def test_each_workspace_runs_as_its_own_user_so_none_uses_up_anothers_processes(backend, settings):
    """RLIMIT_NPROC counts a user's processes: a workspace that holds all it may have leaves
    another workspace's replicas free to start and fork."""
    settings.LOCAL_BACKEND_SANDBOX_NPROC = 40
    hog = spec([PYTHON, "-c", """
import os, time
forks = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forks += 1
except OSError:
    print(f"forks={forks}", flush=True)
time.sleep(60)
"""])
    backend.submit(hog)
    forks = int(answers(_log_lines(backend, hog, "forks="))["forks"])
    assert 0 < forks < 40  # it holds what its user may have
    other = spec([PYTHON, "-c", "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
                                "os.waitpid(pid, 0)\nprint('forked=yes')"])
    backend.submit(other)
    observation, lines = finished(backend, other)
    assert observation.state == SUCCEEDED and answers(lines) == {"forked": "yes"}, lines


def test_tmp_holds_at_most_its_setting(backend, settings):
    settings.LOCAL_BACKEND_SANDBOX_TMP_MIB = 4
    workload = spec(["sh", "-c", "head -c 8388608 /dev/zero > /tmp/big 2>/dev/null && echo wrote=all "
                                 "|| echo wrote=$(stat -c %s /tmp/big)"])
    backend.submit(workload)
    _, lines = finished(backend, workload)
    assert answers(lines)["wrote"] != "all" and int(answers(lines)["wrote"]) <= 4 * 2**20


def test_granted_objects_are_files_and_missing_grants_make_nothing(backend, settings):
    """A grant may name one object (and a migration made such grants): it is mounted as a file,
    read-only; a grant whose object or folder is missing makes none and says so in an event."""
    own = str(uuid.uuid4())
    library = settings.LOCAL_STORAGE_ROOT / "library"
    (library / "reports").mkdir(parents=True)
    (library / "reports" / "summary.txt").write_text("the summary")
    (library / "elsewhere").symlink_to("/etc")
    grants = [StorageBinding(uri="file://library/reports/summary.txt", writable=True),
              StorageBinding(uri="file://library/missing/", writable=True),
              StorageBinding(uri="file://library/gone.txt", writable=False),
              StorageBinding(uri="file://library/elsewhere/", writable=False)]
    script = """
        echo read=$(cat /aip/storage/library/reports/summary.txt)
        echo more >> /aip/storage/library/reports/summary.txt 2>/dev/null && echo write=allowed || echo write=refused
        test -e /aip/storage/library/missing && echo missing=visible || echo missing=absent
        test -e /aip/storage/library/elsewhere/hostname && echo link=followed || echo link=absent
    """
    workload = spec(["sh", "-c", script], workspace_id=own, storage=[own_storage(own), *grants])
    assert backend.submit(workload) is True
    observation, lines = finished(backend, workload)
    assert observation.state == SUCCEEDED, lines
    assert answers(lines) == {"read": "the summary", "write": "refused", "missing": "absent", "link": "absent"}
    assert not (library / "missing").exists() and not (library / "gone.txt").exists()
    assert (library / "reports" / "summary.txt").read_text() == "the summary"
    assert [(e.reason, e.message) for e in observation.events] == [(
        "StorageNotMounted", "Granted storage its replicas do not see: file://library/missing/ (it does not exist); "
        "file://library/gone.txt (it does not exist); file://library/elsewhere/ (it is a link).")]


def test_handing_a_location_over_looks_only_at_what_is_not_the_users_yet(tmp_path):
    """The workspace's folder and what in it is someone else's become its user's; inside its
    user's own folders nothing is looked at (a start costs the folder's entries, not its tree)."""
    user = User(1879048192 + 999, 1879048192 + 999)
    (tmp_path / "old" / "deeper").mkdir(parents=True)
    (tmp_path / "old" / "deeper" / "model.bin").write_text("weights")
    (tmp_path / "platform.txt").write_text("written by the platform")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "later.txt").write_text("written by the platform after")
    for path in (tmp_path / "old", tmp_path / "old" / "deeper", tmp_path / "old" / "deeper" / "model.bin"):
        os.chown(path, 65534, 65534)  # a former sandbox user's
    os.chown(tmp_path / "mine", user.uid, user.gid)
    (tmp_path / "link").symlink_to("/etc")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _give(fd, user)
    finally:
        os.close(fd)
    owners = {str(p.relative_to(tmp_path)): p.lstat().st_uid for p in [tmp_path, *tmp_path.rglob("*")]}
    assert owners == {".": user.uid, "old": user.uid, "old/deeper": user.uid, "old/deeper/model.bin": user.uid,
                      "platform.txt": user.uid, "mine": user.uid, "mine/later.txt": 0, "link": user.uid}
    assert Path("/etc").stat().st_uid == 0


def test_accelerator_replicas_get_only_the_cards_they_ask_for(state, settings, tmp_path):
    """Cards are handed to replicas, none to two at once: each replica's /dev holds its own cards
    and the driver's shared nodes; a gang that finds too few free cards is retried later, one that
    asks for more than the machine has is refused."""
    devices = tmp_path / "dev"
    devices.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidiactl", "nvidia-uvm"):
        (devices / name).write_text(name)  # stand-ins: only their names matter here
    backend = LocalBackend(device_dir=devices)
    see = ["sh", "-c", "echo cards=$(cd /dev && ls -d nvidia[0-9]* | tr '\\n' ' '); "
                       "echo shared=$(cd /dev && ls -d nvidiactl nvidia-uvm | tr '\\n' ' '); sleep 30"]
    pair = spec(see, replicas=2, accelerators=1, accelerator_kind="nvidia_gpu")
    greedy = spec(see, accelerators=2, accelerator_kind="nvidia_gpu")
    try:
        backend.submit(pair)
        seen = [answers(_log_lines(backend, pair, "shared=", replica=f"worker-{i}")) for i in range(2)]
        assert [s["shared"].split() for s in seen] == [["nvidia-uvm", "nvidiactl"]] * 2
        cards = [s["cards"].split() for s in seen]
        assert all(len(c) == 1 for c in cards) and cards[0] != cards[1]
        assert set(cards[0] + cards[1]) < {"nvidia0", "nvidia1", "nvidia2"}
        with pytest.raises(BackendUnavailable, match="asks for 2 cards and 1 of this machine's are free now"):
            backend.submit(greedy)
        assert backend.status(greedy) is None  # nothing half-made: the retry starts afresh
        with pytest.raises(SubmitError, match="asks for 4 cards and this machine has 3"):
            backend.submit(spec(see, accelerators=4, accelerator_kind="nvidia_gpu"))
        backend.cancel(pair)
        assert backend.submit(greedy) is True
        assert len(answers(_log_lines(backend, greedy, "shared="))["cards"].split()) == 2
    finally:
        for observation in backend.list_owned().values():
            backend.remove(observation)


def test_the_sandbox_hosts_file_maps_the_platforms_name_to_loopback():
    assert hosts_file_text("platform.internal") == (
        "127.0.0.1\tlocalhost platform.internal\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert hosts_file_text("127.0.0.1").startswith("127.0.0.1\tlocalhost\n")


def test_cgroup_limits_follow_the_pod_set(tmp_path):
    sandbox = Sandbox(bwrap="bwrap", privileged=True, prlimit="prlimit", nsenter="nsenter", setpriv="setpriv",
                      uids=(1879048192, 1879048192), nofile=1024, nproc=512, tmp_bytes=2**20, cgroup_parent=tmp_path)
    (tmp_path / "wl-worker-0").mkdir()
    (tmp_path / "wl-worker-0" / "memory.swap.max").write_text("max")
    path = sandbox.replica_cgroup("wl-worker-0", vcpus=3, memory_gib=2)
    assert {f.name: f.read_text() for f in path.iterdir()} == {
        "memory.max": str(2 * 2**30), "memory.swap.max": "0", "cpu.max": "300000 100000", "pids.max": "512"}



def test_tmp_is_the_replicas_memory_share_or_the_setting_if_less():
    sandbox = Sandbox(bwrap="bwrap", privileged=True, prlimit="prlimit", nsenter="nsenter", setpriv="setpriv",
                      uids=(1879048192, 1879048192), nofile=1024, nproc=512, tmp_bytes=None, cgroup_parent=None)
    assert sandbox.tmp_size(2) == 2 * 2**30
    assert replace(sandbox, tmp_bytes=3 * 2**30).tmp_size(2) == 2 * 2**30
    assert replace(sandbox, tmp_bytes=2**20).tmp_size(2) == 2**20


# --- where no sandbox can be made -------------------------------------------------------------------


@pytest.fixture
def pool(db):
    return make_pool(name="local", flavor=cpu_flavor(), nodes=1)


@pytest.mark.django_db
def test_without_bubblewrap_tenant_workloads_are_refused(workspace, pool, backend, settings, tmp_path):
    settings.LOCAL_BACKEND_BWRAP = str(tmp_path / "no-bwrap")
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, command=["id", "-u"])
    admit_workloads()
    assert services.submit_workload(workload_id=workload.pk) is False
    workload.refresh_from_db()
    assert workload.phase == Phase.FAILED and workload.reason == "SubmitFailed"
    assert workload.message == (
        f"The local backend refused it: the sandbox cannot be set up: bubblewrap ('{tmp_path / 'no-bwrap'}', "
        "LOCAL_BACKEND_BWRAP) is not installed. Tenant code runs here only in a sandbox: install bubblewrap "
        "(Debian: apt-get install bubblewrap) and allow user namespaces, or, if a single tenant uses this "
        "installation, set LOCAL_BACKEND_SINGLE_TENANT=true to run workloads unsandboxed.")
    assert backend.list_owned() == {}


@pytest.mark.django_db
def test_a_single_tenant_installation_runs_them_unsandboxed(workspace, pool, backend, settings, tmp_path):
    settings.LOCAL_BACKEND_BWRAP = str(tmp_path / "no-bwrap")
    settings.LOCAL_BACKEND_SINGLE_TENANT = True
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, command=["id", "-u"])
    admit_workloads()
    assert services.submit_workload(workload_id=workload.pk) is True
    give_up = time.monotonic() + 20
    while workload.phase != Phase.SUCCEEDED:
        assert time.monotonic() < give_up, (workload.phase, workload.message)
        time.sleep(0.05)
        services.reconcile()
        workload.refresh_from_db()
    assert list(services.workload_logs(workload=workload)) == [f"{os.geteuid()}\n"]
    event = workload.events.get(reason="Unsandboxed")
    assert event.message.startswith("It runs without a sandbox (bubblewrap (")
    assert event.message.endswith("as LOCAL_BACKEND_SINGLE_TENANT allows.")
