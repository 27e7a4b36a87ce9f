"""Sweeps: one short training job per sampled model, dispatched as Ray Tune trials.

The same code runs on a laptop (a local Ray instance started here, on the loopback address)
and on a cluster (`--address`, a head node started with `ray start --head`). A sweep directory
holds sweep.json (what the sweep is: models, dataset, recipe), samples.jsonl (its models) and
results.parquet (one row per finished model, rewritten atomically after each trial). Resuming
reads the table and trains only what has no row yet, so an interrupted sweep (Ctrl-C, a killed
driver, a lost worker) finishes without training any model twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from .cpu_layout import available_cpus, cluster_layout, fastest_layout
from .results import DEFINITION_FILE, ResultsTable, result_row
from .samples_io import atomic_write, write_samples

SAMPLES_FILE = "samples.jsonl"


# --------------------------------------------------------------------------- the directory
def definition_for(models: list[dict], dataset: dict, recipe: dict, source: dict) -> dict:
    """What identifies a sweep: its models (by id), the data and the recipe."""
    ids = "\n".join(m["id"] for m in models)
    return {
        "n": len(models),
        "models": hashlib.sha1(ids.encode()).hexdigest(),
        "dataset": dataset,
        "recipe": recipe,
        "source": source,
    }


def open_directory(directory, definition: dict, resume: bool) -> ResultsTable:
    """The results so far of this sweep in `directory` (empty for a new one); nothing is written.

    A directory that holds another sweep, or this one without --resume, is an error.
    """
    directory = Path(directory)
    definition_path = directory / DEFINITION_FILE
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} exists and is not a directory")
    if definition_path.is_file():
        existing = json.loads(definition_path.read_text())
        same = {k: existing.get(k) for k in ("models", "dataset", "recipe")} == {
            k: definition[k] for k in ("models", "dataset", "recipe")}
        if not same:
            raise ValueError(f"{directory} holds a different sweep ({_describe(existing)}); choose another -o DIR, "
                             "or repeat that sweep's options to resume it")
        table = ResultsTable(directory)
        if not resume and table.rows:
            raise ValueError(f"{directory} already holds this sweep ({len(table.finished_ids())} of {existing['n']} "
                             "done); add --resume to finish it")
        return table
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty and holds no sweep; choose another -o DIR")
    if resume:
        raise ValueError(f"{directory} holds no sweep to resume; run it once without --resume")
    return ResultsTable(directory)


def create_directory(directory, definition: dict, models: list[dict]) -> None:
    """Write sweep.json (again on a resumed run: it records the latest layout) and samples.jsonl
    (once: a resumed sweep has the same models, checked by their ids' hash)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / SAMPLES_FILE).is_file():
        write_samples(models, directory / SAMPLES_FILE)
    atomic_write(directory / DEFINITION_FILE, lambda tmp: Path(tmp).write_text(json.dumps(definition, indent=2) + "\n"))


def _describe(definition: dict) -> str:
    source = definition.get("source", {})
    what = source.get("space") or source.get("samples") or "samples"
    return f"{definition.get('n')} models of {what} on {definition.get('dataset', {}).get('name')}"


# ------------------------------------------------------------------------------------ Ray
def connect(address: str | None, num_cpus: int | None = None, num_gpus: int | None = None):
    """Join the cluster at `address` (or $RAY_ADDRESS), else start a local Ray instance."""
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        _check_reachable(address)
    else:
        # A local instance stays on the loopback address (Ray otherwise binds the host's IP).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    import ray

    if ray.is_initialized():
        return ray
    kwargs = dict(logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, **kwargs)
    except Exception as e:  # Ray raises many kinds; the user needs one line
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "auth" in message.lower() or "token" in message.lower():
            message += " (for a cluster started with RAY_AUTH_MODE=token, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN)"
        raise ValueError(f"cannot connect to Ray{' at ' + address if address else ''}: {message}") from None
    return ray


def _check_reachable(address: str) -> None:
    host, _, port = address.replace("ray://", "").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address!r}: expected HOST:PORT, e.g. 127.0.0.1:6379")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ValueError(f"cannot reach a Ray head at {address} ({e.strerror or e}); start one with "
                         f"`ray start --head --port {port}` or check the address") from None


def check_resources(ray, cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Say so now, rather than let Ray wait forever for resources the cluster does not have."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if gpus_per_trial > 0 and not any(n.get("GPU", 0) >= min(gpus_per_trial, 1) for n in nodes):
        raise ValueError(f"--gpus-per-trial {gpus_per_trial:g}: the Ray cluster has no GPU; drop the option to "
                         "train on CPUs, or add GPU nodes")
    if not any(n.get("CPU", 0) >= cpus_per_trial for n in nodes):
        most = max((n.get("CPU", 0) for n in nodes), default=0)
        raise ValueError(f"--cpus-per-trial {cpus_per_trial:g}: no node of the Ray cluster has that many CPUs "
                         f"(the largest has {most:g})")


def choose_layout(cpus_per_trial: float | None, gpus_per_trial: float, cluster=None) -> dict:
    """CPUs (and torch threads) per trial and why, as sweep.json records it: as given, one per GPU
    trial, or by default the fastest layout (measured once, then cached) of this machine or, given
    a connected Ray `cluster`, of its largest node."""
    if cpus_per_trial is not None:
        plural = "s" * (cpus_per_trial != 1)
        return {"cpus_per_trial": cpus_per_trial, "why": f"{cpus_per_trial:g} CPU{plural} per model (--cpus-per-trial)"}
    if gpus_per_trial > 0:
        return {"cpus_per_trial": 1, "why": "1 CPU per model beside its GPU share"}
    try:
        choice = fastest_layout() if cluster is None else cluster_layout(cluster)
    except RuntimeError as e:  # from a Ray task: the probe's own error, not the remote traceback
        raise ValueError(f"{getattr(e, 'cause', None) or e}; give --cpus-per-trial to choose without measuring") from None
    why = choice.describe()
    if choice.cache:  # not for a single CPU: one layout, nothing measured or cached
        why += f", {'cached in' if choice.cached else 'measured now, saved in'} {choice.cache}"
    if cluster is not None:
        why += f" on {choice.host}"
    return {"cpus_per_trial": choice.layout.threads, "why": why, **choice.to_dict()}


# --------------------------------------------------------------------------------- trials
@functools.lru_cache(maxsize=2)
def _dataset(options_json: str):
    """Loaded once per worker process (Tune reuses actors across trials)."""
    from .data import load_dataset

    options = json.loads(options_json)
    dataset = load_dataset(options["name"], options.get("data_dir"), options.get("resolution"), options["seed"])
    if options.get("train_subset") or options.get("test_subset"):
        dataset = dataset.subset(options.get("train_subset"), options.get("test_subset"), seed=options["seed"])
    return dataset


def run_trial(config: dict, models: dict, dataset: dict, recipe: dict, engine: dict) -> None:
    """Tune trainable: train one model and report its record; a failed job raises, so Tune retries it."""
    from ray import tune

    from .spec import ModelSpec
    from .train import Engine, Recipe, train

    record = train(ModelSpec.from_dict(models[config["model"]]["spec"]), _dataset(json.dumps(dataset, sort_keys=True)),
                   Recipe(**recipe), Engine(**engine), progress=False)
    if record["status"] == "failed":
        raise RuntimeError(record["reason"])
    tune.report({"record": json.dumps(record)})


# ---------------------------------------------------------------------------------- sweep
def run_sweep(directory, models: list[dict], definition: dict, *, address=None, cpus_per_trial: float | None = None,
              gpus_per_trial: float = 0, max_concurrent: int | None = None, retries: int = 2,
              resume: bool = False, progress: bool | None = None) -> ResultsTable:
    """Train every model of the sweep that has no finished row yet; return the results table.

    cpus_per_trial None: the fastest CPU layout (cpu_layout) of this machine, chosen before Ray
    starts so that the probe has the CPUs to itself, or with an address, of the cluster's largest
    node; sweep.json records the layout of the latest run.
    """
    table = open_directory(directory, definition, resume)
    finished = table.finished_ids()
    todo = [m for m in models if m["id"] not in finished]
    if not todo:
        return table
    on_cluster = bool(address or os.environ.get("RAY_ADDRESS"))
    # A local sweep measures its layout before Ray starts, so that the probe has the CPUs to itself.
    layout = None if on_cluster else choose_layout(cpus_per_trial, gpus_per_trial)
    ray = connect(address, num_cpus=available_cpus())
    layout = layout or choose_layout(cpus_per_trial, gpus_per_trial, cluster=ray)
    cpus_per_trial = layout["cpus_per_trial"]
    check_resources(ray, cpus_per_trial, gpus_per_trial)
    print(f"CPU layout: {layout['why']}", file=sys.stderr)
    create_directory(directory, {**definition, "layout": layout}, models)
    from ray import tune

    engine = {"device": "cuda" if gpus_per_trial > 0 else "cpu", "threads": max(1, int(cpus_per_trial))}
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, models={m["id"]: m for m in todo}, dataset=definition["dataset"],
                             recipe=definition["recipe"], engine=engine),
        {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
    )
    recorder = _recorder(table, {m["id"]: m for m in todo}, len(models), progress)
    tuner = tune.Tuner(
        trainable,
        param_space={"model": tune.grid_search([m["id"] for m in todo])},
        tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=max_concurrent,
                                    trial_name_creator=lambda t: t.config["model"],
                                    trial_dirname_creator=lambda t: t.config["model"]),
        run_config=tune.RunConfig(
            name=f"run-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(Path(directory).resolve() / "tune"),
            failure_config=tune.FailureConfig(max_failures=retries), callbacks=[recorder], verbose=0,
        ),
    )
    try:
        tuner.fit()
    finally:
        recorder.bar.close()
    return table


def _recorder(table: ResultsTable, models: dict, total: int, progress: bool | None):
    """A Tune callback: a table row per finished trial, retries counted, and a progress bar."""
    from ray.tune import Callback
    from tqdm import tqdm

    class Recorder(Callback):
        def __init__(self):
            self.attempts, self.failures = {}, 0
            self.bar = tqdm(total=total, initial=len(table.finished_ids()), unit="model", file=sys.stderr,
                            dynamic_ncols=True, disable=(not sys.stderr.isatty()) if progress is None else not progress)
            self.bar.set_postfix(failed=0, refresh=False)

        def finish(self, trial, record: dict) -> None:
            model_id = trial.config["model"]
            table.add(result_row(models[model_id], record, self.attempts.get(model_id, 0) + 1))
            self.bar.update(1)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.finish(trial, json.loads(result["record"]))

        def on_trial_recover(self, iteration, trials, trial, **info):
            self.attempts[trial.config["model"]] = self.attempts.get(trial.config["model"], 0) + 1

        def on_trial_error(self, iteration, trials, trial, **info):
            self.failures += 1
            self.bar.set_postfix(failed=self.failures, refresh=False)
            self.finish(trial, {"status": "failed", "reason": _error_summary(trial)})

    return Recorder()


def _error_summary(trial) -> str:
    """The last line of the trial's error (the exception), as one line."""
    path = getattr(trial, "error_file", None) or ""
    text = Path(path).read_text() if path and Path(path).is_file() else str(getattr(trial, "error_msg", "") or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "the trial failed"
