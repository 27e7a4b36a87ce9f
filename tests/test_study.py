"""Studies in one command: `designspace study FILE --run` runs, resumes and reports; estimates of training time."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import designspace.estimate as estimate_module
from designspace import cpu_layout
from designspace.analysis.study import load_study
from designspace.cli import build_parser, main
from designspace.cpu_layout import layouts, machine_key
from designspace.cpus import available_cpus
from designspace.estimate import EVAL_COST, duration, estimate, estimate_sweep, probe_flops, sweep_speed
from designspace.options import dataset_from, sweep_models
from designspace.results import ResultsTable, has_rows, read_results, result_row

DESIGNSPACE = [sys.executable, "-m", "designspace"]
ROOT = Path(__file__).resolve().parents[1]
TINY = "--space nds_resnet --dataset synthetic --resolution 8 --flops :3M"
SPEED = 1000.0  # the prepared cache's images/s of this machine


def prepare_cache(home) -> cpu_layout.Layout:
    """A CPU-layout cache in $XDG_CACHE_HOME=home as a sweep's probe leaves it: this machine's
    layout with the most jobs, measured at SPEED images/s."""
    layout = layouts(available_cpus())[0]
    path = home / "designspace" / "cpu_layout.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                machine_key(available_cpus()): {
                    "jobs": layout.jobs,
                    "threads": layout.threads,
                    "images_per_second": {str(layout): SPEED},
                }
            }
        )
    )
    return layout


def never_measure(layout, steps=None):
    raise AssertionError(f"the CPU layout probe ran ({layout}) although the cache holds this machine")


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """This machine's layout, read from a prepared cache; the probe must not run."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(cpu_layout, "measure", never_measure)
    monkeypatch.setattr(estimate_module, "measure", never_measure)
    return prepare_cache(tmp_path / "xdg")


def sweep_args(options):
    return build_parser().parse_args(["sweep", *options.split()])


def write_study(path, sweeps):
    """A study file of (name, directory, run options) sweeps."""
    body = "\n".join(
        f'[[sweeps]]\nname = "{name}"\npath = "{directory}"\nrun = "designspace sweep {options} -o {directory}"\n'
        for name, directory, options in sweeps
    )
    path.write_text(f'title = "Two tiny sweeps"\n{body}')
    return path


def write_rows(directory, options, statuses):
    """The sweep directory `designspace sweep OPTIONS -o DIRECTORY` leaves after its first models ended
    with these statuses: sweep.json (its model count) and their table rows."""
    args = sweep_args(f"{options} -o {directory}")
    models, _ = sweep_models(args, dataset_from(args))
    directory.mkdir(parents=True)
    (directory / "sweep.json").write_text(json.dumps({"n": len(models)}))
    table = ResultsTable(directory)
    for model, status in zip(models, statuses):
        table.add(result_row(model, {"status": status, "wall_time": 1.0, "best_error": 50.0}, attempts=1))
    return models


def test_the_estimate_follows_the_cached_speed_and_grows_with_models_epochs_and_flops(cached, tmp_path):
    speed = sweep_speed(sweep_args(f"{TINY} --n 4 -o {tmp_path / 's'}"))
    assert (speed.layout, speed.jobs, speed.per_job) == (cached, cached.jobs, SPEED / cached.jobs)
    assert speed.where == "on this machine"
    # a model of the probe's flops trains at the probe's per-job speed: train images plus a third of the test images
    one = estimate([probe_flops()], epochs=2, train_images=512, test_images=300, speed=speed)
    assert one.seconds == pytest.approx(2 * (512 + 100) / speed.per_job) and one.models == 1
    base = estimate([1e6, 2e6, 3e6], 2, 512, 300, speed)
    assert estimate([1e6, 2e6, 3e6], 4, 512, 300, speed).seconds == pytest.approx(2 * base.seconds)
    assert estimate([2e6, 4e6, 6e6], 2, 512, 300, speed).seconds == pytest.approx(2 * base.seconds)
    assert estimate([1e6, 2e6, 3e6, 3e6], 2, 512, 300, speed).seconds > base.seconds
    assert estimate([1e6, 2e6, 3e6], 2, 1024, 300, speed).seconds > base.seconds
    assert estimate([], 2, 512, 300, speed).describe() == "nothing left to train"
    # the sweep's own models: sampled as the sweep samples them, for the dataset it trains on
    small, large = (estimate_sweep(sweep_args(f"{TINY} --n {n} --epochs 2 -o {tmp_path / 's'}")) for n in (2, 6))
    assert (small.models, large.models) == (2, 6) and large.seconds > small.seconds
    longer = estimate_sweep(sweep_args(f"{TINY} --n 6 --epochs 6 -o {tmp_path / 's'}"))
    assert longer.seconds == pytest.approx(3 * large.seconds)
    assert re.fullmatch(rf"~\d+ s on this machine \(6 models, {re.escape(cached.describe())}\)", large.describe())
    assert [duration(s) for s in (45, 38 * 60, 2.44 * 3600, 570 * 3600)] == ["45 s", "38 min", "2.4 h", "570 h"]


def test_only_models_without_a_finished_row_count(cached, tmp_path):
    options = f"{TINY} --n 5 --epochs 1"
    models = write_rows(tmp_path / "s", options, ["ok", "diverged", "failed"])  # a failed model trains again
    left = estimate_sweep(sweep_args(f"{options} -o {tmp_path / 's'}"))
    assert left.models == 3
    flops = [m["complexity"]["flops"] for m in models[2:]]
    images = 1 * (512 + EVAL_COST * 256)  # the synthetic dataset's splits
    jobs = min(cached.jobs, 3)
    expected = max(
        sum(images * f / (SPEED / cached.jobs * probe_flops()) for f in flops) / jobs,
        images * max(flops) / (SPEED / cached.jobs * probe_flops()),
    )
    assert left.seconds == pytest.approx(expected)


def test_commands_list_what_is_left_with_estimates_and_resume_what_was_started(cached, tmp_path, capsys):
    options = f"{TINY} --n 3 --epochs 1"
    write_rows(tmp_path / "done", options, ["ok"] * 3)
    write_rows(tmp_path / "half", f"{TINY} --n 4 --epochs 1", ["ok", "failed"])
    study = write_study(
        tmp_path / "s.toml",
        [
            ("Done", tmp_path / "done", options),
            ("Half", tmp_path / "half", f"{TINY} --n 4 --epochs 1"),
            ("New", tmp_path / "new", f"{TINY} --n 2 --epochs 2"),
        ],
    )
    loaded = load_study(study)
    assert [s.name for s in loaded.todo] == ["Half", "New"] and [s.name for s in loaded.unfinished] == ["Half"]
    assert [s.name for s in loaded.missing] == ["New"] and loaded.sweeps[0].ready and not loaded.sweeps[1].ready
    assert loaded.sweeps[1].progress() == (1, 4)
    assert main(["study", str(study), "--commands"]) == 0
    out, err = capsys.readouterr()
    half, new = out.splitlines()
    pattern = r"  # ~\d+ s on this machine \((\d) models?, " + re.escape(cached.describe()) + r"\)"
    assert (
        re.fullmatch(
            re.escape(f"designspace sweep {TINY} --n 4 --epochs 1 -o {tmp_path / 'half'} --resume") + pattern, half
        ).group(1)
        == "3"
    )
    assert (
        re.fullmatch(
            re.escape(f"designspace sweep {TINY} --n 2 --epochs 2 -o {tmp_path / 'new'}") + pattern, new
        ).group(1)
        == "2"
    )
    assert re.fullmatch(r"1 of 3 sweeps finished; the others: ~\d+ s of training on this machine\n", err)


def test_a_study_whose_command_is_no_sweep_of_its_path_is_refused(cached, tmp_path, capsys):
    study = tmp_path / "s.toml"
    for run, message in (
        (f"designspace report x -o {tmp_path}/r.html", "is not a `designspace sweep ...` command"),
        (f"designspace sweep {TINY} --n 2 -o {tmp_path}/elsewhere", "writes to"),
        (f"designspace sweep {TINY} --n 0 -o {tmp_path}/a", "is not a valid sweep command"),
        ("python train.py", "must start with `designspace sweep`"),
    ):
        study.write_text(f'[[sweeps]]\npath = "{tmp_path}/a"\nrun = "{run}"\n')
        for flag in ("--commands", "--run"):
            assert main(["study", str(study), flag]) == 2
            err = capsys.readouterr().err
            assert message in err and err.splitlines()[-1].startswith("designspace: error: "), err
            assert "Traceback" not in err and not (tmp_path / "a").exists()
    with pytest.raises(SystemExit):  # argparse: not both
        main(["study", str(study), "--run", "--commands"])


def test_the_old_analysis_folder_still_finds_the_studies_with_a_note(cached, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["study", "analysis/swish_vs_relu.toml", "--commands"]) == 0  # no results here: every sweep listed
    captured = capsys.readouterr()
    assert "note: the study files moved from analysis/ to studies/" in captured.err
    assert "use studies/swish_vs_relu.toml" in captured.err
    assert captured.out.count("designspace sweep ") == 4


def test_a_sweep_that_fails_stops_the_study_before_the_next(cached, tmp_path, capsys):
    study = write_study(
        tmp_path / "s.toml",
        [
            ("Broken", tmp_path / "broken", f"--samples {tmp_path / 'none.jsonl'} --dataset synthetic"),
            ("Next", tmp_path / "next", f"{TINY} --n 2 --epochs 1"),
        ],
    )
    assert main(["study", str(study), "--run"]) == 2
    err = capsys.readouterr().err
    assert "Broken: no estimate: " in err and "Next: ~" in err
    assert "sweep Broken stopped with exit code 2" in err and "Traceback" not in err
    assert not (tmp_path / "next").exists()


@pytest.mark.slow
def test_run_interrupted_then_run_again_trains_only_what_is_left_and_reports(tmp_path):
    """Sweeps on a local Ray of their own, as a user's study runs them (the shared test cluster's
    CPU layout must stay unmeasured until test_sweep measures it)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("RAY_ADDRESS", None)
    prepare_cache(tmp_path / "xdg")
    first, second = tmp_path / "first", tmp_path / "second"
    study = write_study(
        tmp_path / "s.toml",
        [("First", first, f"{TINY} --n 2 --epochs 1"), ("Second", second, f"{TINY} --n 6 --seed 1 --epochs 12")],
    )
    command = [*DESIGNSPACE, "study", study, "--run", "-o", tmp_path / "report.html"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and driver.poll() is None:
        if has_rows(second) and len(read_results(second)) >= 1:
            break
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 130, err
    assert f"run `designspace study {study} --run` again" in err and "Traceback" not in err
    assert "First: ~" in err and "Second: ~" in err and "0 of 2 sweeps finished" in err
    assert not (tmp_path / "report.html").exists()
    done = (first / "results.parquet").read_bytes()
    before = read_results(second)
    kept = before[before["status"] == "ok"]
    assert len(read_results(first)) == 2 and 1 <= len(kept) < 6

    # without --run: a report of what there is, the unfinished sweep included with a note
    partial = subprocess.run(
        [*DESIGNSPACE, "study", study, "-o", tmp_path / "partial.html"], capture_output=True, text=True, env=env
    )
    assert partial.returncode == 0, partial.stderr
    assert f"Second is unfinished ({len(kept)} of 6 models finished)" in (tmp_path / "partial.html").read_text()
    assert f"unfinished {second} ({len(kept)} of 6 models finished)" in partial.stderr

    again = subprocess.run(command, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    assert "1 of 2 sweeps finished" in again.stderr and "First:" not in again.stderr
    assert "Second: ~" in again.stderr and f"({6 - len(kept)} model" in again.stderr
    assert f"resumed ({len(kept)} of 6 models finished)" in again.stderr
    assert (first / "results.parquet").read_bytes() == done  # the finished sweep was left alone
    after = pd.read_parquet(second / "results.parquet")
    assert len(after) == 6 and after["id"].is_unique and (after["status"] == "ok").all()
    assert (after["attempts"] == 1).all()
    unchanged = after.set_index("id").loc[kept["id"], "wall_time"]
    assert list(unchanged) == list(kept["wall_time"])  # finished models were not trained again
    page = (tmp_path / "report.html").read_text()
    assert "<h1>Two tiny sweeps</h1>" in page and "is unfinished (" not in page
