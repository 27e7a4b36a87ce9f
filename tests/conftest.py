"""Shared fixtures. Ray stays on the loopback address and without authentication in tests."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # node IP 127.0.0.1 instead of the host's address
os.environ.pop("RAY_ADDRESS", None)
RAY = str(Path(sys.executable).with_name("ray"))


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """One Ray head for the whole session, started as a user would (`ray start --head`) on 127.0.0.1
    with its own ports; sweeps connect to it with --address. Stopped at the end."""
    gcs, manager, objects, agent, metrics, runtime_env = free_ports(6)
    workers = free_ports(1)[0]
    command = [
        RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}", "--num-cpus=2", "--num-gpus=0",
        "--include-dashboard=false", "--disable-usage-stats", f"--node-manager-port={manager}",
        f"--object-manager-port={objects}",
        f"--dashboard-agent-listen-port={agent}", f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env}", f"--min-worker-port={workers}", f"--max-worker-port={workers + 60}",
    ]
    subprocess.run(command, check=True, capture_output=True)
    address = f"127.0.0.1:{gcs}"
    yield address
    import ray

    if ray.is_initialized():
        ray.shutdown()
    subprocess.run([RAY, "stop", "--force"], capture_output=True)
    shutil.rmtree(tmp_path_factory.getbasetemp() / "ray", ignore_errors=True)
