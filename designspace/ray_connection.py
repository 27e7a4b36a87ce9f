"""Connecting to Ray: a cluster's head that must answer within a bounded time, or a local
instance that dies with the process that started it.

Ray alone would retry an unanswering head for many minutes, printing warnings, and leaves the
agents of a local instance alive for minutes after its driver is killed; a sweep must neither
hang nor leave processes behind.
"""

from __future__ import annotations

import logging
import math
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RAY_TIMEOUT = 30.0  # seconds to wait for a Ray head to answer; $DESIGNSPACE_RAY_TIMEOUT overrides it
# The watchdog of a local instance: given the package's folder and the driver's pid, it runs reap().
_REAPER = (
    "import sys; sys.path.insert(0, sys.argv[1]); from designspace.ray_connection import reap; reap(int(sys.argv[2]))"
)
_watchdog = None  # this driver's watchdog: (pid, the write end of its stdin, which closes when this process ends)


def connect(
    address: str | None, num_cpus: int | None = None, num_gpus: int | None = None, timeout: float | None = None
):
    """Join the cluster at `address` (or $RAY_ADDRESS), else start a local Ray instance that dies
    with this process. Joining waits at most `timeout` seconds ($DESIGNSPACE_RAY_TIMEOUT, 30 s)
    for the head to answer: Ray itself would retry for many minutes."""
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        timeout = _ray_timeout() if timeout is None else timeout
    else:
        # A local instance stays on the loopback address (Ray otherwise binds the host's IP).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    import ray

    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if address and _endpoint(current) != _endpoint(address):
            raise ValueError(
                f"this process is connected to the Ray cluster at {current}; a process joins one cluster, "
                f"so run the work for {address} in a process of its own"
            )
        return ray
    if address:
        _check_reachable(address, timeout)
        _check_answers(address, timeout)
    kwargs = dict(logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            _start_local(ray, num_cpus=num_cpus, num_gpus=num_gpus, **kwargs)
    except Exception as e:  # Ray raises many kinds; the user needs one line
        raise ValueError(f"cannot connect to Ray{' at ' + address if address else ''}: {_first_line(e)}") from None
    return ray


def _endpoint(address: str) -> tuple[str, str]:
    """HOST:PORT with the host resolved, so that a name and its IP compare equal."""
    host, _, port = address.rpartition(":")
    try:
        return socket.gethostbyname(host), port
    except OSError:
        return host, port


def seconds_from_env(name: str, default: float, what: str) -> float:
    """A wait in seconds from the environment variable `name`, else `default`; a value that is not
    a positive number is a one-line error saying what the wait is for."""
    text = os.environ.get(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise ValueError(f"{name}={text!r}: give the seconds to wait {what}, above 0")
    return value


def _ray_timeout() -> float:
    return seconds_from_env("DESIGNSPACE_RAY_TIMEOUT", RAY_TIMEOUT, "for a Ray head")


def _first_line(error) -> str:
    """An exception as one line, with the fix for a cluster that wants a token."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "auth" in message.lower() or "token" in message.lower():
        message += " (for a cluster started with RAY_AUTH_MODE=token, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN)"
    return message


def _check_reachable(address: str, timeout: float) -> None:
    """A quick answer for an address that is malformed or where nothing listens."""
    host, _, port = address.replace("ray://", "").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address!r}: expected HOST:PORT, e.g. 127.0.0.1:6379")
    try:
        socket.create_connection((host, int(port)), timeout=min(timeout, 5)).close()
    except OSError as e:
        raise ValueError(
            f"cannot reach a Ray head at {address} ({e.strerror or e}); start one with "
            f"`ray start --head --port {port}` or check the address"
        ) from None


def _check_answers(address: str, timeout: float) -> None:
    """Ask the head's GCS for its cluster id, as ray.init will, but in a child process that is
    killed after `timeout` seconds and whose output (Ray's retry warnings) is kept off stderr.
    The address is first read as Ray reads it (a loopback address may become this host's IP)."""
    from ray._private.services import canonicalize_bootstrap_address

    if address.startswith("ray://"):  # Ray Client has its own bounded retries
        return
    target = canonicalize_bootstrap_address(address)
    named, hint = address, ""
    if target != address:
        named = f"{address} (which Ray reads as {target})"
        hint = "; for a head on the loopback address only, set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0"
    probe = "import sys, ray._raylet; ray._raylet.GcsClient(address=sys.argv[1]).cluster_id"
    try:
        answer = subprocess.run(
            [sys.executable, "-c", probe, target],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(
            f"no Ray head answered at {named} within {timeout:g} s; check that `ray start --head` "
            f"runs there and the port is Ray's GCS port{hint}"
        ) from None
    if answer.returncode:
        lines = [line for line in answer.stderr.splitlines() if line.strip()]
        raise ValueError(
            f"the Ray head at {named} did not answer: "
            f"{_first_line(lines[-1] if lines else 'its GCS refused the connection')}"
        )


def _start_local(ray, **kwargs) -> None:
    """ray.init of a local instance whose processes die with this one, even by SIGKILL: Ray ties
    only its direct children to us, and the agents would stay for minutes. A watchdog, started
    first so that it also covers a driver killed while Ray starts, kills the rest."""
    global _watchdog
    if _watchdog is not None:  # the previous instance was shut down: its watchdog clears what is left
        pid, pipe = _watchdog
        os.close(pipe)
        os.waitpid(pid, 0)
        _watchdog = None
    if Path("/proc/self/fd").is_dir():  # Linux; elsewhere only Ray's own clean-up
        _watchdog = _start_watchdog()
    ray.init(address="local", **kwargs)


def _start_watchdog() -> tuple[int, int]:
    """Start reap(this pid) in a new session (no Ctrl-C or hang-up from our terminal reaches it);
    return its pid and the write end of its stdin. Spawned without a Popen object, which would
    warn at exit that its process still runs."""
    read, write = os.pipe()
    command = [sys.executable, "-c", _REAPER, str(Path(__file__).resolve().parents[1]), str(os.getpid())]
    pid = os.posix_spawn(
        sys.executable,
        command,
        os.environ,
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_DUP2, read, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ],
    )
    os.close(read)
    return pid, write


def reap(driver: int) -> None:
    """The watchdog's body. Until the driver is gone (stdin closes), look for the instance's
    session dir among the driver's children (GCS and raylet name it); then kill the processes
    of that session, again while any remain (a dying raylet may still start a worker)."""
    session_dir = None
    while not select.select([sys.stdin], [], [], None if session_dir else 0.5)[0]:
        session_dir = _session_dir_of(driver)
    deadline = time.monotonic() + 10
    while session_dir and (pids := session_processes(session_dir)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # gone meanwhile
                continue
        time.sleep(0.1)


def _session_dir_of(driver: int) -> str | None:
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == driver:
                named = re.search(rb"--session[-_]dir=([^\0]+)", (proc / "cmdline").read_bytes())
                if named:
                    return os.fsdecode(named.group(1))
        except OSError:  # gone meanwhile
            continue
    return None


def session_processes(session_dir: str) -> list[int]:
    """The processes of a Ray instance: each one (GCS, raylet, agents, workers) holds a file of
    its session dir open (its logs). Neither command lines nor environments tell them apart:
    workers and agents retitle themselves, which may overwrite both. Not this process (the
    watchdog), whatever it holds."""
    prefix = os.path.join(os.path.realpath(session_dir), "")  # as /proc shows the files
    return [
        int(proc.name)
        for proc in Path("/proc").iterdir()
        if proc.name.isdigit() and int(proc.name) != os.getpid() and _holds(proc, prefix)
    ]


def _holds(proc: Path, prefix: str) -> bool:
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:  # gone meanwhile, or another user's
        return False
    for fd in fds:
        try:
            if os.readlink(fd).startswith(prefix):
                return True
        except OSError:  # closed meanwhile
            continue
    return False
