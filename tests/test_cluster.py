"""Sweeps on a real two-node Ray cluster on this machine (both nodes on 127.0.0.1, each started by
its own `ray start`): the trials spread over both nodes, and the trials of a node that dies are
trained again on the one left. Each node has one CPU and each trial takes one, so that the two
trials that run at a time must run on both nodes."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import start_ray

from designspace.results import read_results
from designspace.samples_io import read_samples

TINY_SWEEP = [
    sys.executable,
    "-m",
    "designspace",
    "sweep",
    "--space",
    "nds_resnet",
    "--dataset",
    "synthetic",
    "--resolution",
    "8",
    "--flops",
    ":3M",
    "--cpus-per-trial",
    "1",
]
# The head's GCS declares a node dead after 3 failed health checks, one a second, instead of Ray's 15-30 s: a dead
# raylet fails a check at once, while a live one on this busy machine still has 5 s to answer each.
QUICK_NODE_DEATH = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "5000",
    "RAY_health_check_failure_threshold": "3",
}
SWEEP_TIMEOUT = 300  # seconds: a hung sweep fails its test instead of the whole suite


@pytest.fixture(scope="module")
def two_nodes():
    """(head, its Ray node id), (second node, its id): a cluster of this module's own, since it
    kills a node of it; the node-loss test runs last."""
    nodes = [start_ray(cpus=1, env=QUICK_NODE_DEATH)]
    try:
        nodes.append(start_ray(cpus=1, join=nodes[0].address))
        yield [(node, node.raylet()[1]) for node in nodes]
    finally:
        for node in reversed(nodes):
            node.stop()


def sweep(head, out, n, epochs, seed=0) -> list[str]:
    """`designspace sweep` of n tiny models on the cluster of `head`, as a user would run it: in
    its own driver process (this one may be connected to the session's head)."""
    return [
        *TINY_SWEEP,
        "--n",
        str(n),
        "--seed",
        str(seed),
        "--epochs",
        str(epochs),
        "--address",
        head.address,
        "-o",
        str(out),
    ]


def trained_once(out):
    """The results table, checked to hold each of the sweep's models exactly once, trained."""
    table = read_results(out)
    assert sorted(table["id"]) == sorted(m["id"] for m in read_samples(out / "samples.jsonl"))
    assert (table["status"] == "ok").all()
    return table


def training(node) -> set[int]:
    """The node's trial workers that are training."""
    return {pid for pid, cmdline in node.processes().items() if cmdline.startswith(b"ray::ImplicitFunc.train")}


@pytest.mark.slow
def test_a_sweep_spreads_over_two_nodes(two_nodes, tmp_path):
    (head, head_id), (_, node_id) = two_nodes
    # each node's workers read the (synthetic) data themselves: the --data-on-nodes path
    result = subprocess.run(
        [*sweep(head, tmp_path / "s", n=3, epochs=1), "--data-on-nodes"],
        capture_output=True,
        text=True,
        timeout=SWEEP_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    table = trained_once(tmp_path / "s")
    assert set(table["node"]) == {head_id, node_id} and (table["attempts"] == 1).all()


@pytest.mark.slow
def test_a_lost_node_s_trials_are_retried_on_the_head(two_nodes, tmp_path):
    (head, head_id), (node, _) = two_nodes
    earlier = training(node)  # workers of the previous sweep may still be shutting down
    log = tmp_path / "sweep.log"
    with log.open("w") as stderr:
        driver = subprocess.Popen(sweep(head, tmp_path / "s", n=2, epochs=10, seed=1), stdout=stderr, stderr=stderr)
    try:
        deadline = time.time() + SWEEP_TIMEOUT
        while not training(node) - earlier and driver.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert training(node) - earlier, f"no trial ran on the second node:\n{log.read_text()}"
        os.kill(node.raylet()[0], signal.SIGKILL)
        driver.wait(timeout=SWEEP_TIMEOUT)
    finally:
        driver.kill()
        driver.wait()
    assert driver.returncode == 0, log.read_text()
    table = trained_once(tmp_path / "s")
    # the trial lost with the node counts two tries; every model was finally trained on the head
    assert (table["node"] == head_id).all() and sorted(table["attempts"]) == [1, 2]
