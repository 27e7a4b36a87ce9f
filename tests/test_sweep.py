"""Sweeps on a real Ray instance: tables, retries, resume after a killed driver, bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict

import pandas as pd
import pytest
from conftest import HEAD_CPUS

import designspace as ds
from designspace.cpu_layout import cluster_layout, layouts, machine_key
from designspace.cpus import available_cpus
from designspace.data import DEBIAN_FASHION_MNIST
from designspace.options import load_recorded_dataset
from designspace.ray_connection import connect
from designspace.results import has_rows, read_results, summary
from designspace.sweep import definition_for, run_sweep
from designspace.train import Recipe

DESIGNSPACE = [sys.executable, "-m", "designspace"]
DATASET = {"name": "synthetic", "data_dir": None, "resolution": 8, "train_subset": None, "test_subset": None, "seed": 0}
TINY_SPACE = ["--space", "nds_resnet", "--dataset", "synthetic", "--resolution", "8", "--flops", ":3M"]


@pytest.fixture(scope="module", autouse=True)
def layout(ray_head):
    """The test cluster's CPU layout, measured on the cluster for real by this first call (as the
    first sweep sent to a cluster does), then read from the cluster's cache by every sweep here;
    local sweeps (no --address) read the same cache file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(ray_head.cache_home))
        measured = cluster_layout(connect(ray_head.address))
        assert not measured.cached and measured.layout in layouts(HEAD_CPUS)
        assert measured.cache == str(ray_head.cache_home / "designspace" / "cpu_layout.json")
        yield measured


def tiny_models(n, seed=0, flops=(0, 3e6)):
    space = ds.load_space("nds_resnet").with_context(resolution=8, in_channels=3, num_classes=4)
    return list(space.sample(n, seed=seed, flops=flops))


def run(*args, check=True, **kwargs):
    result = subprocess.run([*DESIGNSPACE, *map(str, args)], capture_output=True, text=True, **kwargs)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_a_sweep_trains_each_model_once_into_one_table(ray_cluster, tmp_path, layout):
    models = tiny_models(6)
    recipe = asdict(Recipe(epochs=2))
    definition = definition_for(models, DATASET, recipe, {"space": "nds_resnet"})
    run_sweep(tmp_path / "s", models, definition, address=ray_cluster, progress=False)
    table = read_results(tmp_path / "s")
    assert sorted(table["id"]) == sorted(m["id"] for m in models)
    assert (table["status"] == "ok").all() and (table["attempts"] == 1).all()
    # by default, this machine's measured layout: its threads per model, recorded in sweep.json
    recorded = json.loads((tmp_path / "s" / "sweep.json").read_text())["layout"]
    assert (recorded["jobs"], recorded["threads"]) == (layout.layout.jobs, layout.layout.threads)
    assert recorded["cpus_per_trial"] == layout.layout.threads and (table["threads"] == layout.layout.threads).all()
    assert {
        "sample.depth",
        "sample.width",
        "spec",
        "flops",
        "params",
        "acts",
        "best_error",
        "final_error",
        "train_loss",
        "test_error",
        "epochs",
        "wall_time",
        "images_per_second",
        "device",
        "recipe",
    } <= set(table)
    assert all(len(curve) == 2 for curve in table["test_error"]) and (table["epochs"] == 2).all()
    first = table[table["id"] == models[0]["id"]].iloc[0]
    assert json.loads(first["spec"]) == models[0]["spec"] and first["flops"] == models[0]["complexity"]["flops"]
    assert "6 of 6 models trained (6 ok)" in summary(tmp_path / "s")
    # already complete: a resume has nothing to do and changes nothing
    before = (tmp_path / "s" / "results.parquet").read_bytes()
    samples_written = (tmp_path / "s" / "samples.jsonl").stat().st_mtime_ns
    run_sweep(tmp_path / "s", models, definition, address=ray_cluster, resume=True, progress=False)
    assert (tmp_path / "s" / "results.parquet").read_bytes() == before
    assert (tmp_path / "s" / "samples.jsonl").stat().st_mtime_ns == samples_written


def test_a_sweep_on_a_cluster_takes_the_layout_of_the_clusters_node_not_of_this_machine(
    ray_cluster, tmp_path, layout, monkeypatch
):
    # this machine's cache says another layout, which a sweep measured here would take
    other = next(c for c in layouts(available_cpus()) if c != layout.layout)
    driver_cache = tmp_path / "xdg" / "designspace" / "cpu_layout.json"
    driver_cache.parent.mkdir(parents=True)
    driver_cache.write_text(
        json.dumps(
            {
                machine_key(available_cpus()): {
                    "jobs": other.jobs,
                    "threads": other.threads,
                    "images_per_second": {str(other): 1.0},
                }
            }
        )
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    models = tiny_models(2, seed=2)
    definition = definition_for(models, DATASET, asdict(Recipe(epochs=1)), {"space": "nds_resnet"})
    run_sweep(tmp_path / "s", models, definition, address=ray_cluster, progress=False)
    recorded = json.loads((tmp_path / "s" / "sweep.json").read_text())["layout"]
    assert (recorded["jobs"], recorded["threads"]) == (layout.layout.jobs, layout.layout.threads)
    assert recorded["why"].endswith(f"cached in {layout.cache} on {recorded['host']}")


def trial_workers(ray_head):
    return [pid for pid, cmdline in ray_head.processes().items() if cmdline.startswith(b"ray::ImplicitFunc")]


def test_a_worker_killed_mid_trial_is_retried_not_lost(ray_head, tmp_path):
    models = tiny_models(3, seed=1, flops=(1e6, 3e6))
    definition = definition_for(models, DATASET, asdict(Recipe(epochs=15)), {"space": "nds_resnet"})
    earlier = set(trial_workers(ray_head))  # workers of other tests may still be shutting down
    killed = []

    def kill_one_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            for pid in set(trial_workers(ray_head)) - earlier:
                time.sleep(1.0)  # let it get into training
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
                except ProcessLookupError:
                    continue
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    run_sweep(tmp_path / "s", models, definition, address=ray_head.address, max_concurrent=1, progress=False)
    killer.join()
    table = read_results(tmp_path / "s")
    assert killed and len(table) == 3 and (table["status"] == "ok").all()
    assert sorted(table["attempts"]) == [1, 1, 2]


@pytest.mark.slow
def test_resume_after_the_driver_is_killed_finishes_each_model_exactly_once(ray_cluster, tmp_path):
    out = tmp_path / "s"
    args = ["sweep", *TINY_SPACE, "--n", 10, "--seed", 3, "--epochs", 12, "--address", ray_cluster, "-o", out]
    driver = subprocess.Popen([*DESIGNSPACE, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if has_rows(out) and len(read_results(out)) >= 3:  # the rows logged since the last compaction too
            break
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = read_results(out)
    assert 3 <= len(before) < 10
    refused = run(*args, check=False)  # without --resume nothing is touched
    assert refused.returncode == 2 and "add --resume" in refused.stderr
    mixed = run("sweep", "--resume", out, "--epochs", 12, check=False)  # the recorded recipe is the sweep's
    assert mixed.returncode == 2 and "drop --epochs" in mixed.stderr
    run("sweep", "--resume", out, "--address", ray_cluster)  # the directory alone says what to finish
    after = pd.read_parquet(out / "results.parquet")  # compacted at the end: pandas alone sees every row
    assert len(after) == 10 and after["id"].is_unique and (after["status"] == "ok").all()
    kept = after.set_index("id").loc[before["id"]]
    assert list(kept["wall_time"]) == list(before["wall_time"])  # finished models were not trained again


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="needs Debian's dataset-fashion-mnist (make data)")
def test_the_data_travels_with_the_sweep_so_workers_need_no_copy(ray_cluster, tmp_path):
    """The driver loads the data, then the folder disappears: the trials still train, on the copy
    shipped through Ray's object store. (--data-on-nodes, the workers' own loading, runs in
    test_cluster.py.)"""
    folder = tmp_path / "fashion"
    shutil.copytree(DEBIAN_FASHION_MNIST, folder)
    options = {
        "name": "fashion-mnist",
        "data_dir": str(folder),
        "resolution": None,
        "train_subset": 256,
        "test_subset": 128,
        "seed": 0,
    }
    data = load_recorded_dataset(options)
    shutil.rmtree(folder)
    space = ds.load_space("nds_resnet").with_context(resolution=28, in_channels=1, num_classes=10)
    models = list(space.sample(2, seed=0, flops=(0, 10e6)))
    definition = definition_for(models, options, asdict(Recipe(epochs=1)), {"space": "nds_resnet"})
    run_sweep(tmp_path / "shipped", models, definition, address=ray_cluster, data=data, progress=False)
    table = read_results(tmp_path / "shipped")
    assert (table["status"] == "ok").all() and (table["train_images"] == 256).all()
    assert table["node"].str.fullmatch("[0-9a-f]{56}").all()  # the Ray node that trained each model


def test_without_an_address_a_sweep_starts_its_own_local_ray(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = run("sweep", *TINY_SPACE, "--n", 3, "--epochs", 1, "-o", tmp_path / "local", env=env)
    assert "3 of 3 models trained (3 ok)" in result.stdout


def test_a_samples_file_can_be_trained_later(ray_cluster, tmp_path):
    samples = tmp_path / "models.jsonl"
    run(
        "sample",
        "--space",
        "nds_vanilla",
        "--n",
        3,
        "--resolution",
        8,
        "--num-classes",
        4,
        "--flops",
        ":2M",
        "-o",
        samples,
    )
    result = run(
        "sweep",
        "--samples",
        samples,
        "--dataset",
        "synthetic",
        "--resolution",
        8,
        "--epochs",
        1,
        "--address",
        ray_cluster,
        "-o",
        tmp_path / "s",
    )
    assert "3 of 3 models trained" in result.stdout
    assert "CPU layout: " in result.stderr and "cached in" in result.stderr  # measured by the fixture
    summary_text = run("results", tmp_path / "s", "--csv", tmp_path / "s.csv").stdout
    assert "3 of 3 models trained" in summary_text
    exported = pd.read_csv(tmp_path / "s.csv")
    assert len(exported) == 3 and json.loads(exported["test_error"][0])[0] >= 0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--gpus-per-trial", 1], "the Ray cluster has no GPU"),
        (["--cpus-per-trial", 64], "no node of the Ray cluster has that many CPUs"),
    ],
)
def test_resources_the_cluster_lacks_are_refused_at_once(ray_cluster, tmp_path, extra, message):
    result = run(
        "sweep",
        *TINY_SPACE,
        "--n",
        2,
        "--epochs",
        1,
        "--address",
        ray_cluster,
        *extra,
        "-o",
        tmp_path / "s",
        check=False,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_bad_sweep_input_is_one_line_and_touches_nothing(ray_cluster, tmp_path):
    done = tmp_path / "done"
    result = run(
        "sweep", *TINY_SPACE, "--n", 2, "--epochs", 1, "--cpus-per-trial", 2, "--address", ray_cluster, "-o", done
    )
    assert "CPU layout: 2 CPUs per model (--cpus-per-trial)" in result.stderr
    assert json.loads((done / "sweep.json").read_text())["layout"]["cpus_per_trial"] == 2
    assert (read_results(done)["threads"] == 2).all()
    snapshot = {p.name: p.read_bytes() for p in done.iterdir() if p.is_file()}
    (tmp_path / "not_samples.jsonl").write_text("hello\n")
    cases = [
        (["sweep", *TINY_SPACE, "--n", 3, "--epochs", 1, "-o", done], "holds a different sweep"),
        (["sweep", *TINY_SPACE, "--n", 2, "--epochs", 1, "-o", done], "add --resume"),
        (["sweep", *TINY_SPACE, "--n", 2, "--epochs", 1, "--resume", "-o", tmp_path / "new"], "no sweep to resume"),
        (["sweep", *TINY_SPACE, "--n", 2, "--address", "127.0.0.1:9", "-o", tmp_path / "x"], "cannot reach a Ray head"),
        (
            ["sweep", "--samples", tmp_path / "not_samples.jsonl", "--dataset", "synthetic", "-o", tmp_path / "y"],
            "is this a designspace samples file",
        ),
        (["results", tmp_path], "no results.parquet"),
    ]
    for args, message in cases:
        result = run(*args, check=False, timeout=120)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr
        assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in done.iterdir() if p.is_file()} == snapshot
    assert not (tmp_path / "new").exists() and not (tmp_path / "x").exists()


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(ray_cluster, tmp_path):
    args = ["sweep", *TINY_SPACE, "--n", 6, "--epochs", 30, "--address", ray_cluster, "-o", tmp_path / "s"]
    driver = subprocess.Popen(
        [*DESIGNSPACE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "s" / "sweep.json").exists():
        time.sleep(0.2)
    time.sleep(2)
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 130 and f"designspace sweep --resume {tmp_path / 's'}" in err
    assert "Traceback" not in err and "of 6 models trained" in out
