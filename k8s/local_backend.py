"""LocalBackend: the embedded default. Each replica's command runs as a child process in its own
process group, sandboxed (k8s.sandbox), with the same environment contract as on Kubernetes (rank
variables included), its output in a log file under LOCAL_BACKEND_DIR. Everything it knows is on
disk, so an API or worker restart loses nothing: a small shell wrapper, outside the sandbox,
writes the exit code even when the process that started the replica is gone, and any process
reading the directory sees the same state. The sandboxed command sees none of that directory."""

import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict, deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG

from django.conf import settings

from aiplatform.storage import workspace_root_uri

from .backend import (
    FAILED,
    PENDING,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    BackendEvent,
    BackendUnavailable,
    ComputeBackend,
    Observation,
    SubmitError,
    UnknownReplica,
    WorkloadSpec,
    is_uuid,
)
from .manifests import leader_of, rank_env, secret_references
from .sandbox import (
    ACCELERATOR_DEVICES,
    CHAIN_ENV,
    STORAGE_ROOT,
    WORK_DIR,
    Mount,
    Reach,
    Sandbox,
    SandboxRefused,
    SandboxUnavailable,
    User,
    accelerator_cards,
    accelerator_devices,
    hosts_file_text,
    platform_address_inside,
    platform_endpoint,
    stop_processes,
)

# Runs the replica, then writes its exit code next to the log ($0 is the exit-code path, $1 the
# replica's cgroup or empty, removed when it ends).
WRAPPER = ('exit_path=$0 cgroup=$1; shift; "$@"; rc=$?; [ -z "$cgroup" ] || rmdir "$cgroup" 2>/dev/null; '
           'echo "$rc" > "$exit_path.tmp" && mv "$exit_path.tmp" "$exit_path"')
# What a replica inherits from the platform's own environment (never its credentials).
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
REFUSED = ("Tenant code runs here only in a sandbox: install bubblewrap (Debian: apt-get install bubblewrap) and "
           "allow user namespaces, or, if a single tenant uses this installation, set LOCAL_BACKEND_SINGLE_TENANT=true "
           "to run workloads unsandboxed.")
STOP_GRACE_SECONDS = 5
# The pod set's readiness path (as a readinessProbe's httpGet on Kubernetes), and how long a probe waits.
HEALTH_PATH_ENV = "AIP_HEALTH_PATH"
PROBE_TIMEOUT_SECONDS = 1.0
FOLLOW_POLL_SECONDS = 0.3
SECRET_MAX_BYTES = 1 << 20  # as a Kubernetes Secret


@dataclass
class _Sandboxing:
    """What a submit prepared for its replicas' sandboxes."""

    sandbox: Sandbox
    user: User
    platform: tuple[str, int]
    mounts: list[Mount] = field(default_factory=list)
    unmounted: list[str] = field(default_factory=list)  # granted locations it cannot see, in words


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except FileNotFoundError:
        return None


def _observe_times(observation: Observation, directory: Path, meta: dict) -> None:
    """When the replicas of run-to-completion work started (the first state file, written as its
    process starts; a server counts from when it is ready, which the reconciler sees) and, once
    every one has an exit code, finished (the last exit file, written as its process ends)."""
    replicas = meta["replicas"]
    starts = [t for name in replicas if (t := _mtime(directory / f"{name}.json"))]
    ends = [_mtime(directory / f"{name}.exit") for name in replicas]
    observation.started_at = None if meta["serves"] else min(starts, default=None)
    if ends and all(ends):
        observation.finished_at = max(ends)


def _proc_start_time(pid: int) -> str | None:
    """The kernel's start time of a live, non-zombie process (None when it is not running);
    compared with the recorded one so that a reused pid is not taken for our replica."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own finished child
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _group_lives(pgid: int) -> bool:
    """Whether any process of the group is alive (zombies aside); the group's number stays
    reserved while it has members, so it is still the replica's."""
    try:
        os.waitpid(pgid, os.WNOHANG)  # the wrapper, if it is our own finished child
    except ChildProcessError:
        pass
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


def _read_secret(root: Path, parts: tuple[str, ...]) -> bytes:
    """The regular file at root/parts, each part opened without following links (a link cannot
    lead out of the folder), at most SECRET_MAX_BYTES; OSError when it is not there."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
        # Non-blocking: a FIFO planted there must not hang the submit.
        child = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        os.close(fd)
        fd = child
        if not S_ISREG(os.fstat(fd).st_mode):
            raise FileNotFoundError(parts[-1])
        data = b""
        while len(data) <= SECRET_MAX_BYTES and (chunk := os.read(fd, SECRET_MAX_BYTES + 1 - len(data))):
            data += chunk
        return data
    finally:
        os.close(fd)


def _ready(endpoint: dict) -> bool:
    """Whether a serving replica answers 200 on its health path (one without a path: always)."""
    if not endpoint.get("health"):
        return True
    connection = http.client.HTTPConnection("127.0.0.1", endpoint["port"], timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", endpoint["health"])
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code - 128).name
    except ValueError:
        return f"signal {code - 128}"


class LocalBackend(ComputeBackend):
    name = "local"

    def __init__(self, base_dir: Path | str | None = None, device_dir: Path | str = "/dev"):
        self.base_dir = Path(base_dir or settings.LOCAL_BACKEND_DIR)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.device_dir = Path(device_dir)  # where the machine's accelerator cards are

    def _dir(self, workload_id: str) -> Path:
        return self.base_dir / "workloads" / workload_id

    def volume_dir(self, workspace_id: str, name: str) -> Path:
        """A persistent volume's folder (a notebook's storage): it outlives the workloads that use it."""
        if not is_uuid(workspace_id):
            raise ValueError(f"{workspace_id!r} is not a workspace id.")
        return self.base_dir / "volumes" / workspace_id / name

    def delete_volume(self, *, workspace_id: str, name: str) -> None:
        shutil.rmtree(self.volume_dir(workspace_id, name), ignore_errors=True)

    # --- submit / cancel ---------------------------------------------------------------------

    def _env(self, spec: WorkloadSpec, pod_set, *, sandboxed: bool) -> dict:
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        # The platform's own runtimes (training.runtime, inference.runtime, inference.loadgen)
        # import from the project; on Kubernetes the image carries them.
        env["PYTHONPATH"] = str(settings.BASE_DIR)
        references = secret_references(spec, pod_set)
        for name, value in spec.env_for(pod_set):
            env[name] = self._secret(spec.workspace_id, name, *references[name]) if name in references else value
        if sandboxed:
            env.update(HOME=WORK_DIR, TMPDIR="/tmp", AIP_LOCAL_STORAGE_ROOT=STORAGE_ROOT)
        else:
            env["AIP_LOCAL_STORAGE_ROOT"] = str(settings.LOCAL_STORAGE_ROOT)
        # Runtime secrets reach the process only: nothing the API reads holds them.
        env.update(spec.secrets)
        return env

    def _secret(self, workspace_id: str, name: str, secret: str, key: str) -> str:
        """A key of one of the workspace's secrets, LOCAL_BACKEND_DIR/secrets/<workspace id>/<secret>/<key>
        (as a Secret in the workspace's namespace on Kubernetes). The message names no host path."""
        words = f"env {name} refers to secret '{secret}' key '{key}'"
        try:
            if not is_uuid(workspace_id):
                raise FileNotFoundError(workspace_id)
            data = _read_secret(self.base_dir / "secrets", (workspace_id, secret, key))
        except OSError:
            raise SubmitError(f"{words}, which is not found among the workspace's secrets.") from None
        if len(data) > SECRET_MAX_BYTES:
            raise SubmitError(f"{words}, which holds more than {SECRET_MAX_BYTES // 2**20} MiB.")
        return data.decode(errors="surrogateescape")

    def _sandbox(self) -> tuple[Sandbox | None, str]:
        """The sandbox; or, where it cannot be set up and the installation is single-tenant,
        None and the reason (anything else is refused)."""
        try:
            return Sandbox.from_settings(), ""
        except SandboxUnavailable as exc:
            if settings.LOCAL_BACKEND_SINGLE_TENANT:
                return None, str(exc)
            raise SubmitError(f"the sandbox cannot be set up: {exc} {REFUSED}") from exc

    def submit(self, spec: WorkloadSpec) -> bool:
        if not all(spec.command_for(p) for p in spec.pod_sets):
            raise SubmitError("it has no command to run.")
        sandbox, unsandboxed = self._sandbox()
        envs = {p.name: self._env(spec, p, sandboxed=sandbox is not None) for p in spec.pod_sets}
        directory = self._dir(spec.id)
        directory.parent.mkdir(parents=True, exist_ok=True)
        with ExitStack() as descriptors:
            sandboxing = None
            if sandbox:
                try:
                    platform = platform_endpoint()
                    platform_address_inside(platform[0])
                    sandboxing = _Sandboxing(sandbox=sandbox, platform=platform, user=sandbox.workspace_user(
                        spec.workspace_id, self.base_dir / "sandbox-users.json"))
                    sandboxing.mounts, sandboxing.unmounted = sandbox.storage_mounts(
                        spec.storage, descriptors, own_uri=workspace_root_uri(spec.workspace_id),
                        user=sandboxing.user)
                except SandboxRefused as exc:
                    raise SubmitError(str(exc)) from exc
            try:
                directory.mkdir()  # the claim: a second submit finds it and adopts the first
            except FileExistsError:
                return False
            try:
                self._start(spec, directory, envs, sandboxing, unsandboxed, descriptors)
            except BaseException as exc:
                self._abandon(directory)  # nothing half-started stays; an outage is retried from scratch
                if isinstance(exc, SandboxUnavailable | SandboxRefused):
                    raise SubmitError(f"its sandbox could not start: {exc}") from exc
                raise
        return True

    def _start(self, spec, directory, envs, sandboxing: _Sandboxing | None, unsandboxed, descriptors) -> None:
        replicas = []
        for pod_set in spec.pod_sets:
            port = _free_port()
            replicas += [(f"{pod_set.name}-{index}", pod_set, index, port) for index in range(pod_set.replicas)]
        serving = [name for name, *_ in replicas] if spec.serves else []
        network, lifetime, sandbox = None, (), sandboxing and sandboxing.sandbox
        cards = self._claim_cards(spec, directory, replicas) if sandbox else {}
        if sandbox:
            # The replicas hold the write end: when the last one ends, the forwarders read end of file.
            lifetime = os.pipe()
            for fd in lifetime:
                descriptors.callback(os.close, fd)
            network = sandbox.start_network(run_dir=directory / "sandbox" / "run", log_path=directory / "network.log",
                                            platform=sandboxing.platform, serving=serving, reach=self._reach(spec),
                                            until_eof=lifetime[0], user=sandboxing.user)
            for fd in network.namespace_fds:
                descriptors.callback(os.close, fd)
            _write_json(directory / "network.json", {"processes": [
                {"pid": pid, "start_time": _proc_start_time(pid)} for pid in network.pids]})
            # Every serving replica answers on its own loopback port, carried into its sandbox.
            ports = network.serve_ports
            (directory / "sandbox" / "hosts").write_text(hosts_file_text(sandboxing.platform[0]))
        else:
            ports = {name: _free_port() for name in serving}
        # A serving replica takes requests once its runtime's health path answers (a readiness probe).
        endpoints = {name: {"role": pod_set.name, "port": ports[name],
                            "health": dict(spec.env_for(pod_set)).get(HEALTH_PATH_ENV, "")}
                     for name, pod_set, *_ in replicas if name in ports}
        cgroups = {name: sandbox.replica_cgroup(f"{spec.id}-{name}", vcpus=pod_set.vcpus,
                                                memory_gib=pod_set.memory_gib) if sandbox else None
                   for name, pod_set, *_ in replicas}
        _write_json(directory / "workload.json", {
            "workload_id": spec.id, "workspace_id": spec.workspace_id, "serves": spec.serves,
            "replicas": [name for name, *_ in replicas], "submitted_at": time.time(),
            "max_runtime_seconds": spec.max_runtime_seconds, "endpoints": endpoints,
            "sandboxed": sandbox is not None, "unsandboxed": unsandboxed,
            "cgroups": [str(c) for c in cgroups.values() if c],
            "unmounted": sandboxing.unmounted if sandboxing else [],
        })
        for name, pod_set, index, port in replicas:
            env = {**envs[pod_set.name], **rank_env(spec, pod_set, master_addr="127.0.0.1", master_port=port,
                                                    node_rank=str(index))}
            if name in endpoints:
                env.update(AIP_SERVE_HOST="127.0.0.1", AIP_SERVE_PORT=str(endpoints[name]["port"]))
            if leader_of(spec, pod_set) is not None:
                env["LEADER_ADDR"] = "127.0.0.1"
            command = list(spec.command_for(pod_set))
            if command[0] in ("python", "python3"):
                command[0] = sys.executable  # the platform's interpreter stands for an image's python
            if sandbox:
                work = self.volume_dir(spec.workspace_id, spec.volume.name) if spec.volume else None
                self._start_sandboxed(directory, name, env, command, work=work, sandboxing=sandboxing, network=network,
                                      lifetime=lifetime, cgroup=cgroups[name], pod_set=pod_set,
                                      devices=cards.get(name, []))
                continue
            cwd = directory
            if spec.volume:
                cwd = self.volume_dir(spec.workspace_id, spec.volume.name)
                cwd.mkdir(parents=True, exist_ok=True)
                env["HOME"] = str(cwd)
            with open(directory / f"{name}.log", "ab") as log:
                process = subprocess.Popen(
                    ["/bin/sh", "-c", WRAPPER, str(directory / f"{name}.exit"), "", *command],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                    start_new_session=True,  # its own process group: cancel signals the whole tree
                )
            _write_json(directory / f"{name}.json", {"pid": process.pid,
                                                     "start_time": _proc_start_time(process.pid)})

    def _start_sandboxed(self, directory, name, env, command, *, work: Path | None, sandboxing: _Sandboxing, network,
                         lifetime, cgroup, pod_set, devices: list[Path]) -> None:
        """One replica in its sandbox, its working folder the workload's persistent volume or one
        of its own. Its environment travels through a pipe to the sandbox's last step: what runs
        before, as root or the platform's user, never sees it."""
        sandbox, mounts = sandboxing.sandbox, sandboxing.mounts
        work = work or directory / "sandbox" / name
        sandbox.own_dir(work, sandboxing.user)
        env_read, env_write = os.pipe()
        try:
            try:
                chain = sandbox.replica_command(
                    command=command, hostname=name, work_dir=work, hosts_file=directory / "sandbox" / "hosts",
                    storage=mounts, network=network, cgroup=cgroup, user=sandboxing.user,
                    tmp_bytes=sandbox.tmp_size(pod_set.memory_gib),
                    accelerator_kind=pod_set.accelerator_kind if pod_set.accelerators else None, devices=devices,
                    env_fd=env_read)
                with open(directory / f"{name}.log", "ab") as log:
                    process = subprocess.Popen(
                        ["/bin/sh", "-c", WRAPPER, str(directory / f"{name}.exit"), str(cgroup or ""), *chain],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=CHAIN_ENV, cwd="/",
                        pass_fds=(env_read, lifetime[1], *network.namespace_fds, *(m.fd for m in mounts)),
                        start_new_session=True,  # its own process group: cancel signals the whole tree
                    )
            finally:
                os.close(env_read)
            _write_json(directory / f"{name}.json", {"pid": process.pid, "start_time": _proc_start_time(process.pid)})
            data = memoryview(b"".join(f"{k}={v}".encode(errors="surrogateescape") + b"\0" for k, v in env.items()))
            while data:
                data = data[os.write(env_write, data):]
        except BrokenPipeError:
            pass  # the sandbox did not start; its exit code and log say why
        finally:
            os.close(env_write)

    def _reach(self, spec: WorkloadSpec) -> list[Reach]:
        """The live serving replicas of the same workspace's other workloads (a benchmark's target):
        what its sandbox may reach besides the platform's API, each through its own socket."""
        reach = []
        root = self.base_dir / "workloads"
        for directory in root.iterdir() if root.exists() else ():
            meta = _read_json(directory / "workload.json") or {}
            if meta.get("workspace_id") != spec.workspace_id or meta.get("workload_id") == spec.id \
                    or not meta.get("sandboxed") or not is_uuid(directory.name):
                continue
            endpoints = meta.get("endpoints") or {}
            live = set(self._live_replicas(directory, list(endpoints)))
            reach += [Reach(port=e["port"], workload_id=directory.name, replica=name,
                            run_dir=directory / "sandbox" / "run") for name, e in endpoints.items() if name in live]
        return sorted(reach, key=lambda r: r.port)

    def _claim_cards(self, spec: WorkloadSpec, directory: Path, replicas) -> dict[str, list[Path]]:
        """Cards of this machine for each accelerator replica, none that a replica of another
        workload holds (while it runs, or starts), recorded in the workload's folder; returns the
        device nodes of each replica's. A machine without cards of the kind gives none (the
        replica runs on its CPUs)."""
        wanted = [(name, pod_set) for name, pod_set, *_ in replicas
                  if pod_set.accelerators and pod_set.accelerator_kind in ACCELERATOR_DEVICES]
        if not wanted:
            return {}
        with open(self.base_dir / "cards.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two submits at once must not take the same cards
            busy = self._busy_cards(but=spec.id)
            claims = {}
            for name, pod_set in wanted:
                kind, present = pod_set.accelerator_kind, accelerator_cards(pod_set.accelerator_kind, self.device_dir)
                free = [card for card in present if card not in busy[kind]]
                if present and pod_set.accelerators > len(present):
                    raise SubmitError(f"replica {name} asks for {pod_set.accelerators} cards and this machine has "
                                      f"{len(present)}.")
                if present and pod_set.accelerators > len(free):
                    raise BackendUnavailable(f"replica {name} asks for {pod_set.accelerators} cards and "
                                             f"{len(free)} of this machine's are free now.")
                claims[name] = {"kind": kind, "cards": free[:pod_set.accelerators]}
                busy[kind].update(claims[name]["cards"])
            _write_json(directory / "cards.json", claims)
        return {name: accelerator_devices(claim["kind"], claim["cards"], self.device_dir)
                for name, claim in claims.items()}

    def _busy_cards(self, *, but: str) -> dict[str, set[int]]:
        busy = defaultdict(set)
        root = self.base_dir / "workloads"
        for directory in root.iterdir() if root.exists() else ():
            claims = _read_json(directory / "cards.json") if directory.name != but else None
            for name, claim in (claims or {}).items():
                started = (directory / f"{name}.json").exists() or (directory / f"{name}.exit").exists()
                if not started or self._live_replicas(directory, [name]):
                    busy[claim["kind"]].update(claim["cards"])
        return busy

    def _abandon(self, directory: Path) -> None:
        meta = _read_json(directory / "workload.json")
        if meta is not None:
            self._stop(directory, meta["replicas"], "cancelled", wait=True)
        self._stop_network(directory)
        shutil.rmtree(directory, ignore_errors=True)

    def _stop_network(self, directory: Path) -> None:
        network = _read_json(directory / "network.json") or {}
        stop_processes([p["pid"] for p in network.get("processes", [])
                        if p["start_time"] and _proc_start_time(p["pid"]) == p["start_time"]])

    def _live_pids(self, directory: Path, replicas: list[str]) -> list[int]:
        return [_read_json(directory / f"{name}.json")["pid"] for name in self._live_replicas(directory, replicas)]

    def _stop(self, directory: Path, replicas: list[str], marker: str, wait: bool) -> None:
        """SIGTERM to each replica's process group; with `wait`, SIGKILL to what is left of it
        after the grace. The group, not the wrapper, is waited for: the wrapper and bwrap end at
        once on SIGTERM while the sandboxed command may still be shutting down (or starting)."""
        (directory / marker).touch()
        groups = self._live_pids(directory, replicas)
        for pid in groups:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if not wait:
            return
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while groups and time.monotonic() < deadline:
            time.sleep(0.1)
            groups = [pid for pid in groups if _group_lives(pid)]
        for pid in groups:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def endpoints(self, spec: WorkloadSpec, role: str) -> list[str]:
        directory = self._dir(spec.id)
        meta = _read_json(directory / "workload.json") or {}
        serving = [(name, e) for name, e in (meta.get("endpoints") or {}).items() if e["role"] == role]
        live = set(self._live_replicas(directory, [name for name, _ in serving]))
        return [f"http://127.0.0.1:{e['port']}" for name, e in serving if name in live and _ready(e)]

    @staticmethod
    def _unready(meta: dict, alive: list[str]) -> list[str]:
        """Per serving role whose live replicas do not all answer their health path: "server: 1 of 2
        instances ready" (as Kubernetes' Deployments tell it)."""
        counts = defaultdict(lambda: [0, 0])
        for name, endpoint in (meta.get("endpoints") or {}).items():
            counts[endpoint["role"]][1] += 1
            if name in alive and _ready(endpoint):
                counts[endpoint["role"]][0] += 1
        return [f"{role}: {ready} of {wanted} instances ready" for role, (ready, wanted) in counts.items()
                if ready < wanted]

    def _live_replicas(self, directory: Path, replicas: list[str]) -> list[str]:
        live = []
        for name in replicas:
            state = _read_json(directory / f"{name}.json")
            if state and state["start_time"] and _proc_start_time(state["pid"]) == state["start_time"]:
                live.append(name)
        return live

    def cancel(self, spec: WorkloadSpec) -> None:
        directory = self._dir(spec.id)
        meta = _read_json(directory / "workload.json")
        if meta is not None:
            self._stop(directory, meta["replicas"], "cancelled", wait=True)
            self._stop_network(directory)

    def remove(self, observation: Observation) -> None:
        directory = self._dir(observation.workload_id)
        meta = _read_json(directory / "workload.json")
        if meta is not None:
            self._stop(directory, meta["replicas"], "cancelled", wait=True)
            for cgroup in meta.get("cgroups") or ():
                try:
                    Path(cgroup).rmdir()
                except OSError:
                    pass  # gone already (its wrapper removes it), or not empty yet: removed with the next pass
        self._stop_network(directory)
        shutil.rmtree(directory, ignore_errors=True)

    def watch(self, on_change, *, stop) -> None:
        pass  # processes report nothing; the watch loop's idle passes read their exit codes

    # This machine is the only node: pools have nothing to label.
    def place_node(self, *, node_name: str, pool_name: str, dedicated: bool) -> None:
        pass

    def release_node(self, *, node_name: str) -> None:
        pass

    # --- status ------------------------------------------------------------------------------

    def _observe(self, directory: Path) -> Observation | None:
        meta = _read_json(directory / "workload.json")
        if meta is None:
            return None
        replicas = meta["replicas"]
        observation = Observation(
            workload_id=meta["workload_id"], replicas=list(replicas),
            objects=[("process-group", "", name) for name in replicas],
        )
        if meta.get("unsandboxed"):
            observation.events.append(BackendEvent("Unsandboxed", f"It runs without a sandbox ({meta['unsandboxed']}), "
                                                                  "as LOCAL_BACKEND_SINGLE_TENANT allows."))
        if meta.get("unmounted"):
            observation.events.append(BackendEvent("StorageNotMounted", "Granted storage its replicas do not see: "
                                                                        f"{'; '.join(meta['unmounted'])}."))
        alive, failures, lost = [], [], []
        for name in replicas:
            state = _read_json(directory / f"{name}.json")
            exit_path = directory / f"{name}.exit"
            exit_text = exit_path.read_text().strip() if exit_path.exists() else ""
            if exit_text:
                code = int(exit_text)
                if code != 0 or meta["serves"]:
                    failures.append((name, code))
            elif state and state["start_time"] and _proc_start_time(state["pid"]) == state["start_time"]:
                alive.append(name)
            elif state is not None:
                lost.append(name)
            # No state file yet: the submit is still starting it.
        _observe_times(observation, directory, meta)
        if (directory / "gang-failed").exists():
            lost = []  # the replicas stopped because another one failed were not lost
        if (directory / "cancelled").exists():
            observation.state = STOPPED if not alive else RUNNING
            return observation
        runtime = meta.get("max_runtime_seconds")
        if (directory / "deadline-exceeded").exists() or (
            alive and runtime and time.time() > meta["submitted_at"] + runtime
        ):
            if alive:
                self._stop(directory, replicas, "deadline-exceeded", wait=False)
            observation.state, observation.reason = FAILED, "DeadlineExceeded"
            observation.message = f"It ran longer than its max runtime of {runtime} s and was stopped."
        elif failures or lost:
            observation.state = FAILED
            observation.reason, observation.message = self._failure(failures, lost, meta["serves"])
            if alive:  # one failed replica fails the gang: stop the others
                self._stop(directory, replicas, "gang-failed", wait=False)
        elif alive and len(alive) + len([n for n in replicas if (directory / f"{n}.exit").exists()]) == len(replicas):
            observation.unready = self._unready(meta, alive)
            observation.state = PENDING if observation.unready else RUNNING
        elif not alive and all((directory / f"{n}.exit").exists() for n in replicas):
            observation.state = SUCCEEDED
        else:
            observation.state = PENDING
        return observation

    @staticmethod
    def _failure(failures, lost, serves) -> tuple[str, str]:
        parts = []
        for name, code in failures:
            if code == 0:
                parts.append(f"replica {name} exited (code 0), but a serving replica must keep running")
            elif code > 128:
                parts.append(f"replica {name} was killed by {_signal_name(code)}"
                             + (" (possibly out of memory)" if code == 137 else ""))
            elif code == 127:
                parts.append(f"replica {name} could not start its command (not found, exit code 127)")
            else:
                parts.append(f"replica {name} exited with code {code}")
        parts += [f"replica {name}'s process ended without an exit code (killed from outside the platform)"
                  for name in lost]
        reason = "ServerExited" if serves and failures else "ReplicaLost" if not failures else "ReplicaFailed"
        text = "; ".join(parts)
        return reason, f"{text[0].upper()}{text[1:]}. See its logs."

    def status(self, spec: WorkloadSpec) -> Observation | None:
        return self._observe(self._dir(spec.id))

    def list_owned(self) -> dict[str, Observation]:
        root = self.base_dir / "workloads"
        result = {}
        for directory in root.iterdir() if root.exists() else ():
            observation = self._observe(directory)
            if observation is not None:
                result[observation.workload_id] = observation
        return result

    # --- logs --------------------------------------------------------------------------------

    def replicas(self, spec: WorkloadSpec) -> list[str]:
        meta = _read_json(self._dir(spec.id) / "workload.json")
        return meta["replicas"] if meta else []

    def logs(self, spec: WorkloadSpec, *, replica: str | None = None, tail: int | None = None,
             follow: bool = False):
        directory = self._dir(spec.id)
        replicas = self.replicas(spec)
        replica = replica or (replicas[0] if replicas else None)
        if replica not in replicas:
            raise UnknownReplica(replicas)
        return self._read_log(directory, replica, tail, follow)

    def _read_log(self, directory: Path, replica: str, tail: int | None, follow: bool):
        path = directory / f"{replica}.log"
        with open(path, "rb") as log:
            lines = deque(log, maxlen=tail) if tail else list(log)
            for line in lines:
                yield line.decode(errors="replace")
            pending = b""
            while follow:
                chunk = log.read()
                if chunk:
                    *complete, pending = (pending + chunk).split(b"\n")
                    for line in complete:
                        yield line.decode(errors="replace") + "\n"
                    continue
                if not self._live_pids(directory, [replica]):
                    if pending:
                        yield pending.decode(errors="replace")
                    return
                time.sleep(FOLLOW_POLL_SECONDS)
