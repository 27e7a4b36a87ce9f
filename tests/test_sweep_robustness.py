"""Sweeps that cannot hang, leave nothing behind and talk in a log file: bounded waits on Ray,
requests no node can meet refused before Tune starts, a local Ray instance that dies with its
driver, and plain progress lines when stderr is not a terminal."""

import io
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import start_ray

import designspace as ds
import designspace.sweep as sweep
from designspace.data import synthetic
from designspace.ray_connection import connect
from designspace.results import ResultsTable, read_results
from designspace.sweep import check_resources, definition_for, progress_line, run_sweep, shippable
from designspace.train import Recipe

DATASET = {"name": "synthetic", "data_dir": None, "resolution": 8, "train_subset": None, "test_subset": None, "seed": 0}
TINY_SPACE = ["--space", "nds_resnet", "--dataset", "synthetic", "--resolution", "8", "--flops", ":3M"]
PROGRESS = re.compile(r"^(\d+) of (\d+) models done, (\d+) failed, \d+(?:h\d\dm|m\d\ds|s) elapsed(?:, ~.+ left)?$")


def tiny_models(n, seed=0):
    space = ds.load_space("nds_resnet").with_context(resolution=8, in_channels=3, num_classes=4)
    return list(space.sample(n, seed=seed, flops=(0, 3e6)))


def tiny_sweep(n, epochs=1, seed=0):
    models = tiny_models(n, seed=seed)
    return models, definition_for(models, DATASET, asdict(Recipe(epochs=epochs)), {"space": "nds_resnet"})


# ------------------------------------------------------------------------------ bounded waits
@pytest.fixture
def silent_port():
    """A loopback TCP port that accepts connections and never says a word (not Ray's GCS)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in accepted:
        connection.close()


def test_an_address_that_never_answers_as_ray_is_given_up_in_one_line(silent_port, tmp_path):
    address = f"127.0.0.1:{silent_port}"
    env = {**os.environ, "DESIGNSPACE_RAY_TIMEOUT": "5"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "designspace",
            "sweep",
            *TINY_SPACE,
            "--n",
            "2",
            "--epochs",
            "1",
            "--address",
            address,
            "-o",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"designspace: error: no Ray head answered at {address} within 5 s; check that `ray start --head` runs "
        "there and the port is Ray's GCS port"
    )
    assert "GCS" not in result.stderr.replace("Ray's GCS port", "") and "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_a_process_joined_to_one_cluster_refuses_to_send_work_to_another(ray_cluster):
    assert connect(ray_cluster).is_initialized()
    assert connect(ray_cluster.replace("127.0.0.1", "localhost")).is_initialized()  # the same head, by name
    with pytest.raises(
        ValueError,
        match=f"this process is connected to the Ray cluster at {ray_cluster}; a process "
        "joins one cluster, so run the work for 127.0.0.1:9 in a process of its own",
    ):
        connect("127.0.0.1:9")


HOLD_A_CPU = """
import sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
held = ray.remote(num_cpus=1)(lambda: time.sleep(600)).remote()
ray.wait([held], timeout=2)  # scheduled by now: the node has one CPU left, never all of them
print("holding", flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_cluster_that_never_frees_its_node_for_the_layout_probe_is_given_up_in_one_line(tmp_path):
    """A fresh cluster has no cached layout; while other work holds one of its CPUs, the probe that
    needs them all cannot start, and the sweep says so instead of waiting forever."""
    head = start_ray()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_CPU, head.address], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        env = {**os.environ, "DESIGNSPACE_LAYOUT_WAIT": "3"}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "designspace",
                "sweep",
                *TINY_SPACE,
                "--n",
                "2",
                "--epochs",
                "1",
                "--address",
                head.address,
                "-o",
                str(tmp_path / "s"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
    finally:
        holder.kill()
        holder.wait()
        head.stop()
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "other work held its CPUs for 3 s; give --cpus-per-trial C (the CPUs and torch threads per model) instead"
        )
    )
    assert "Traceback" not in result.stderr and not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf"])
def test_a_ray_timeout_that_is_not_a_positive_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("DESIGNSPACE_RAY_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"DESIGNSPACE_RAY_TIMEOUT='{value}': give the seconds .* above 0"):
        connect("127.0.0.1:9")


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("cpus_per_trial", 0, "--cpus-per-trial 0: give the CPUs per model, above 0"),
        ("cpus_per_trial", -1, "--cpus-per-trial -1: give the CPUs per model, above 0"),
        ("cpus_per_trial", math.nan, "--cpus-per-trial nan: give the CPUs per model, above 0"),
        ("gpus_per_trial", -1, "--gpus-per-trial -1: give the GPUs per model, 0 or more"),
        ("gpus_per_trial", 1.5, "--gpus-per-trial 1.5: .* a fraction only below 1"),
        ("max_concurrent", 0, "--max-concurrent 0: give 1 or more"),
        ("retries", -1, "--retries -1: give 0 or more"),
    ],
)
def test_requests_ray_would_misread_or_never_schedule_are_refused_before_anything_starts(
    tmp_path, option, value, message
):
    models, definition = tiny_sweep(1)
    with pytest.raises(ValueError, match=message):
        run_sweep(tmp_path / "s", models, definition, address="127.0.0.1:9", **{option: value})
    assert not (tmp_path / "s").exists()


def cluster(*nodes):
    """A stand-in for the ray module with these (CPUs, GPUs) nodes alive, and one dead big node."""
    alive = [{"Alive": True, "Resources": {"CPU": cpus, **({"GPU": gpus} if gpus else {})}} for cpus, gpus in nodes]
    return SimpleNamespace(nodes=lambda: [*alive, {"Alive": False, "Resources": {"CPU": 64, "GPU": 8}}])


SPLIT = [(8, 0), (1, 1)]  # many CPUs on one node, the GPU on another


@pytest.mark.parametrize(
    "nodes, cpus, gpus, message",
    [
        (SPLIT, 8, 0, None),
        (SPLIT, 1, 1, None),
        (SPLIT, 0.5, 0.25, None),
        (SPLIT, 2, 1, "no node of the Ray cluster has both 2 CPUs and 1 GPUs"),
        (SPLIT, 1, 2, "--gpus-per-trial 2: no node of the Ray cluster has that many GPUs \\(the largest has 1\\)"),
        (SPLIT, 16, 0, "--cpus-per-trial 16: no node of the Ray cluster has that many CPUs \\(the largest has 8\\)"),
        ([(8, 0)], 1, 0.5, "--gpus-per-trial 0.5: the Ray cluster has no GPU"),
    ],
)
def test_a_trial_must_fit_on_one_live_node(nodes, cpus, gpus, message):
    if message is None:
        check_resources(cluster(*nodes), cpus, gpus)
    else:
        with pytest.raises(ValueError, match=message):
            check_resources(cluster(*nodes), cpus, gpus)


def test_a_dataset_too_large_for_the_smallest_object_store_is_refused_with_the_way_out():
    data = synthetic(seed=0, resolution=8)
    store = {"Alive": True, "Resources": {"CPU": 2, "object_store_memory": 4 * data.nbytes}}
    assert shippable(SimpleNamespace(nodes=lambda: [store]), data)["train_images"].dtype == np.uint8
    small = {"Alive": True, "Resources": {"CPU": 2, "object_store_memory": data.nbytes}}
    with pytest.raises(ValueError, match="more than 50% of the smallest node's Ray object store.*--data-on-nodes"):
        shippable(SimpleNamespace(nodes=lambda: [store, small]), data)


# --------------------------------------------------------------------- the local instance's end
def instance_processes(temp_dir) -> dict[int, bytes]:
    """pid -> command line of the live processes of the local Ray instance in this RAY_TMPDIR: those
    that name it in their environment (unless a new process title overwrote that), their command
    line or their open files (their logs)."""
    found, mark = {}, f"RAY_TMPDIR={temp_dir}".encode()
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
            named = mark in (entry / "environ").read_bytes().split(b"\0") or temp_dir.encode() in cmdline
            if named or any(target.startswith(temp_dir) for target in open_files(entry)):
                found[int(entry.name)] = cmdline
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def open_files(proc: Path) -> list[str]:
    targets = []
    for fd in (proc / "fd").iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return targets


AGENT = re.compile(rb"ray::(DashboardAgent|RuntimeEnvAgent)|\S+ -u \S+/(dashboard/agent|runtime_env/agent/main)\.py ")


def agents_and_workers_run(temp_dir) -> bool:
    """Whether both agents (which outlived a killed driver for minutes) and a worker run."""
    commands = instance_processes(temp_dir).values()
    return sum(AGENT.match(c) is not None for c in commands) == 2 and any(
        c.startswith((b"ray::IDLE", b"ray::ImplicitFunc")) for c in commands
    )


DRIVER = """
import sys
from test_sweep_robustness import tiny_sweep
from designspace.sweep import run_sweep
models, definition = tiny_sweep(2, epochs=1000)
run_sweep(sys.argv[1], models, definition, cpus_per_trial=1, max_concurrent=1, progress=False)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the instance's processes in /proc")
def test_a_local_ray_instance_dies_with_its_killed_driver(tmp_path):
    temp_dir = tempfile.mkdtemp(prefix="ray-test-")  # this instance's own: short enough for Ray's socket paths
    env = {**os.environ, "RAY_TMPDIR": temp_dir}
    env.pop("RAY_ADDRESS", None)
    with open(tmp_path / "driver.err", "w") as err:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(tmp_path / "s")],
            cwd=Path(__file__).parent,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.time() + 180
        while not agents_and_workers_run(temp_dir):
            assert driver.poll() is None and time.time() < deadline, (
                (tmp_path / "driver.err").read_text(),
                [c[:60] for c in instance_processes(temp_dir).values()],
            )
            time.sleep(0.5)
        driver.kill()
        driver.wait()
        deadline = time.time() + 10
        while instance_processes(temp_dir) and time.time() < deadline:
            time.sleep(0.2)
        assert not instance_processes(temp_dir), [(p, c[:200]) for p, c in instance_processes(temp_dir).items()]
    finally:
        if driver.poll() is None:
            driver.kill()
        for pid in instance_processes(temp_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        shutil.rmtree(temp_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------ progress
def test_off_a_terminal_a_sweep_prints_plain_progress_lines(ray_cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep, "PROGRESS_EVERY", 0.0)  # a line at every step of Tune's loop
    models, definition = tiny_sweep(2, seed=5)
    run_sweep(tmp_path / "s", models, definition, address=ray_cluster, cpus_per_trial=1)
    assert len(read_results(tmp_path / "s")) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "CPU layout: 1 CPU per model (--cpus-per-trial)"
    progress = [PROGRESS.match(line) for line in lines[1:]]
    assert all(progress), lines
    done = [int(m.group(1)) for m in progress]
    assert done == sorted(done) and done[-1] == 2 and {m.group(2) for m in progress} == {"2"}
    assert lines[-1].startswith("2 of 2 models done, 0 failed, ") and lines[-1].endswith("s elapsed")
    assert any(", ~" in line for line in lines if line.startswith("1 of 2"))  # once a model is done


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def recorder_and_trial(tmp_path, progress, n=4):
    models = tiny_models(n, seed=7)
    recorder = sweep._recorder(ResultsTable(tmp_path), {m["id"]: m for m in models}, n, progress)
    return recorder, [SimpleNamespace(config={"model": m["id"]}) for m in models]


def test_lines_come_every_interval_and_at_each_finished_model_when_models_finish_less_often(
    tmp_path, monkeypatch, capsys
):
    clock = Clock()
    monkeypatch.setattr(sweep, "time", clock)
    recorder, trials = recorder_and_trial(tmp_path, progress=None)

    def at(seconds, finished=None):
        clock.now = 1000.0 + seconds
        if finished is None:
            recorder.on_step_end(0, [])
        else:
            recorder.on_trial_result(0, [], trials[finished], {"record": json.dumps({"status": "ok"})})
        return capsys.readouterr().err.splitlines()

    assert at(10) == []
    assert at(30) == ["0 of 4 models done, 0 failed, 30s elapsed"]
    assert at(40, finished=0) == ["1 of 4 models done, 0 failed, 40s elapsed, ~2m00s left"]  # 40 s since the start
    assert at(50, finished=1) == []  # 10 s after the last: no line until 30 s after the last line
    assert at(69) == []
    assert at(70) == ["2 of 4 models done, 0 failed, 1m10s elapsed, ~1m10s left"]
    assert at(3700, finished=2) == ["3 of 4 models done, 0 failed, 1h01m elapsed, ~20m33s left"]


@pytest.mark.parametrize(
    "stderr, progress", [(Terminal(), None), (io.StringIO(), False)], ids=["a terminal: the bar", "progress off"]
)
def test_a_terminal_or_progress_off_gets_no_plain_lines(tmp_path, monkeypatch, stderr, progress):
    monkeypatch.setattr(sweep, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(sys, "stderr", stderr)
    recorder, trials = recorder_and_trial(tmp_path, progress)
    recorder.on_step_end(0, [])
    recorder.on_trial_result(0, [], trials[0], {"record": json.dumps({"status": "ok"})})
    recorder.bar.close()
    assert "models done" not in stderr.getvalue()
    assert ("1/4" in stderr.getvalue()) == (progress is None)  # the bar, on the terminal only


def test_a_progress_line_says_what_is_done_failed_and_left():
    assert progress_line(12, 66, 0, 250, 12) == "12 of 66 models done, 0 failed, 4m10s elapsed, ~18m45s left"
    assert progress_line(20, 66, 1, 250, 8) == "20 of 66 models done, 1 failed, 4m10s elapsed, ~23m58s left"
    assert progress_line(10, 66, 0, 5, 0) == "10 of 66 models done, 0 failed, 5s elapsed"  # resumed: no rate yet
    assert progress_line(66, 66, 2, 7265, 66) == "66 of 66 models done, 2 failed, 2h01m elapsed"
