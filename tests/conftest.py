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


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@dataclass(frozen=True)
class RayHead:
    """The test session's own Ray head. `ray start` runs in a new session, and every process of the
    cluster (GCS, raylet, agents, trial workers) inherits its session id and its environment, so
    the tests can find and stop exactly their own processes (the session id, and the cache home
    only this cluster has, in case the id was reused) and never touch another Ray instance."""

    address: str
    session: int
    temp_dir: str

    @property
    def cache_home(self) -> Path:
        """$XDG_CACHE_HOME of the cluster's processes (where its CPU layout is cached)."""
        return Path(self.temp_dir) / "cache"

    def processes(self) -> dict[int, bytes]:
        """pid -> command line of this cluster's live processes: by session and environment, or,
        for agents that retitled themselves over both, by their log files open in its temp dir."""
        from designspace.ray_connection import session_processes

        found, mark, holding = {}, f"XDG_CACHE_HOME={self.cache_home}".encode(), set(session_processes(self.temp_dir))
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.getsid(int(entry.name)) == self.session and (
                        int(entry.name) in holding
                        or mark in (entry / "environ").read_bytes().split(b"\0")):  # a zombie's is empty
                    found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found

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


def start_ray_head() -> tuple[RayHead | None, str]:
    """`ray start --head` on free loopback ports; (head, "") or (None, its output)."""
    gcs, manager, objects, agent, metrics, runtime_env = free_ports(6)
    workers = free_ports(1)[0]
    temp_dir = tempfile.mkdtemp(prefix="ray-test-")
    command = [
        RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}", f"--num-cpus={HEAD_CPUS}", "--num-gpus=0",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}", f"--node-manager-port={manager}",
        f"--object-manager-port={objects}",
        f"--dashboard-agent-listen-port={agent}", f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env}", f"--min-worker-port={workers}", f"--max-worker-port={workers + 60}",
    ]
    env = {**os.environ, "XDG_CACHE_HOME": str(Path(temp_dir) / "cache")}  # never the developer's cache
    start = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    head = RayHead(f"127.0.0.1:{gcs}", session=start.pid, temp_dir=temp_dir)
    output, _ = start.communicate()
    if start.returncode:
        head.stop()
        return None, output.decode()
    return head, ""


@pytest.fixture(scope="session")
def ray_head():
    """One Ray head for the whole session, started as a user would (`ray start --head`) on 127.0.0.1
    with its own ports and temp dir (a short path: Ray's socket paths must fit 107 bytes). The ports
    are free when chosen but another process may take one before Ray binds it, so a failed start
    is tried again on new ports."""
    for _ in range(3):
        head, output = start_ray_head()
        if head:
            break
    else:
        pytest.fail(f"ray start failed three times; the last output:\n{output}")
    yield head
    import ray

    if ray.is_initialized():
        ray.shutdown()
    head.stop()


@pytest.fixture(scope="session")
def ray_cluster(ray_head):
    """The session's Ray head address, for run_sweep(address=...) and --address."""
    return ray_head.address
