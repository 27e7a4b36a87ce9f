"""Shared fixtures. Ray stays on the loopback address and without authentication in tests."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # node IP 127.0.0.1 instead of the host's address
os.environ.pop("RAY_ADDRESS", None)
RAY = str(Path(sys.executable).with_name("ray"))
HEAD_CPUS = 2  # the test cluster's CPUs, whatever the machine has
# `ray start` for a node that joins a head. RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps Ray's addresses on loopback
# (else it reads 127.0.0.1 as this host's network address), but then Ray refuses to add a node; this `ray start`
# lifts that refusal alone, in its own process: the node's processes run with the setting as it is.
RAY_JOIN = [
    sys.executable,
    "-c",
    "import sys, types, ray._private.ray_constants as c, ray.scripts.scripts as s; "
    "s.ray_constants = types.SimpleNamespace(**{**vars(c), 'ENABLE_RAY_CLUSTER': True}); s.main()",
]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@dataclass(frozen=True)
class RayNode:
    """A Ray node the tests started: the session's head, or a node of a test's own cluster. `ray
    start` runs in a new session, and every process of the node (GCS, raylet, agents, trial
    workers) inherits its session id and its environment, so the tests can find and stop exactly
    its own processes (the session id, and the cache home only this node has, in case the id was
    reused) and never touch another Ray instance or another node of the same cluster."""

    address: str  # the cluster's GCS address
    session: int
    temp_dir: str

    @property
    def cache_home(self) -> Path:
        """$XDG_CACHE_HOME of the node's processes (where its CPU layout is cached)."""
        return Path(self.temp_dir) / "cache"

    def processes(self) -> dict[int, bytes]:
        """pid -> command line of this node's live processes: by session and environment, or,
        for agents that retitled themselves over both, by their log files open in its temp dir."""
        from designspace.ray_connection import session_processes

        found, mark, holding = {}, f"XDG_CACHE_HOME={self.cache_home}".encode(), set(session_processes(self.temp_dir))
        for entry in Path("/proc").iterdir():
            try:
                if (
                    entry.name.isdigit()
                    and os.getsid(int(entry.name)) == self.session
                    and (int(entry.name) in holding or mark in (entry / "environ").read_bytes().split(b"\0"))
                ):  # a zombie's is empty
                    found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found

    def raylet(self) -> tuple[int, str]:
        """The pid of this node's raylet and the id of the Ray node it runs (hex, as Ray names nodes)."""
        for pid, cmdline in self.processes().items():
            args = cmdline.decode().split("\0")
            if args[0].endswith("/raylet"):
                return pid, next(arg.split("=", 1)[1] for arg in args if arg.startswith("--node_id="))
        raise LookupError(f"no raylet runs for the Ray node in {self.temp_dir}")

    def stop(self, grace=5.0):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except OSError:
                    continue
            deadline = time.time() + grace
            while self.processes() and time.time() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_ray_node(cpus=HEAD_CPUS, join: str | None = None, env: dict | None = None) -> tuple[RayNode | None, str]:
    """`ray start --head`, or given the address of a head to `join`, a node that joins its cluster,
    on free loopback ports with its own temp dir, `cpus` CPUs and `env` added to its environment;
    (node, "") or (None, its output)."""
    gcs, manager, objects, agent, metrics, runtime_env = free_ports(6)
    workers = free_ports(1)[0]
    temp_dir = tempfile.mkdtemp(prefix="ray-test-")
    role = (
        [*RAY_JOIN, "start", "--address", join]
        if join
        else [RAY, "start", "--head", f"--port={gcs}", "--include-dashboard=false"]
    )
    command = [
        *role,
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={cpus}",
        "--num-gpus=0",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
        f"--node-manager-port={manager}",
        f"--object-manager-port={objects}",
        f"--dashboard-agent-listen-port={agent}",
        f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--min-worker-port={workers}",
        f"--max-worker-port={workers + 60}",
    ]
    env = {**os.environ, **(env or {}), "XDG_CACHE_HOME": str(Path(temp_dir) / "cache")}  # never the developer's cache
    start = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    node = RayNode(join or f"127.0.0.1:{gcs}", session=start.pid, temp_dir=temp_dir)
    output, _ = start.communicate()
    if start.returncode:
        node.stop()
        return None, output.decode()
    return node, ""


def start_ray(**kwargs) -> RayNode:
    """start_ray_node(**kwargs). The ports are free when chosen but another process may take one
    before Ray binds it, so a failed start is tried again on new ports."""
    for _ in range(3):
        node, output = start_ray_node(**kwargs)
        if node:
            return node
    pytest.fail(f"ray start failed three times; the last output:\n{output}")


@pytest.fixture(scope="session")
def ray_head():
    """One Ray head for the whole session, started as a user would (`ray start --head`) on 127.0.0.1
    with its own ports and temp dir (a short path: Ray's socket paths must fit 107 bytes)."""
    head = start_ray()
    yield head
    import ray

    if ray.is_initialized():
        ray.shutdown()
    head.stop()


@pytest.fixture(scope="session")
def ray_cluster(ray_head):
    """The session's Ray head address, for run_sweep(address=...) and --address."""
    return ray_head.address
