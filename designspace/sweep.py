"""Sweeps: one short training job per sampled model, dispatched as Ray Tune trials.

The same code runs on a laptop (a local Ray instance started here, on the loopback address)
and on a cluster (`--address`, a head node started with `ray start --head`). A sweep directory
holds sweep.json (what the sweep is: models, dataset, recipe), samples.jsonl (its models) and
the results table (results.py: a row appended per finished model). Resuming reads the table and
trains only what has no row yet, so an interrupted sweep (Ctrl-C, a killed driver, a lost
worker) finishes without training any model twice. The dataset travels from the driver to the
workers through Ray's object store, so that no node needs the data on disk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

from .cpu_layout import cluster_layout, fastest_layout
from .cpus import available_cpus
from .options import load_recorded_dataset
from .output_files import atomic_write
from .ray_connection import connect
from .records import SampleRecord, SweepDefinition
from .results import DEFINITION_FILE, ResultsTable, read_definition, result_row
from .samples_io import write_samples
from .units import si

SAMPLES_FILE = "samples.jsonl"
SHIP_FRACTION = 0.5  # of a node's object store, at most, for the shipped dataset
PROGRESS_EVERY = 30.0  # seconds between plain progress lines when stderr is not a terminal (a log file)


# --------------------------------------------------------------------------- the directory
def definition_for(models: list[SampleRecord], dataset: dict, recipe: dict, source: dict) -> SweepDefinition:
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
        existing = read_definition(directory)
        same = {k: existing.get(k) for k in ("models", "dataset", "recipe")} == {
            k: definition[k] for k in ("models", "dataset", "recipe")
        }
        if not same:
            raise ValueError(
                f"{directory} holds a different sweep ({_describe(existing)}); choose another -o DIR, "
                "or repeat that sweep's options to resume it"
            )
        table = ResultsTable(directory)
        if not resume and table.rows:
            raise ValueError(
                f"{directory} already holds this sweep ({len(table.finished_ids())} of {existing['n']} "
                "done); add --resume to finish it"
            )
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
def check_request(
    cpus_per_trial: float | None, gpus_per_trial: float, max_concurrent: int | None, retries: int
) -> None:
    """Refuse what Ray would read as something else (retries -1: forever) or never schedule, for
    callers of run_sweep that did not come through the command line's checks."""
    if cpus_per_trial is not None and not 0 < cpus_per_trial < math.inf:
        raise ValueError(f"--cpus-per-trial {cpus_per_trial:g}: give the CPUs per model, above 0 (e.g. 0.5, 1 or 2)")
    if not (0 <= gpus_per_trial <= 1 or (gpus_per_trial > 1 and float(gpus_per_trial).is_integer())):
        raise ValueError(
            f"--gpus-per-trial {gpus_per_trial:g}: give the GPUs per model, 0 or more and a fraction "
            "only below 1 (e.g. 0.25, 1 or 2)"
        )
    if max_concurrent is not None and max_concurrent < 1:
        raise ValueError(f"--max-concurrent {max_concurrent}: give 1 or more models at a time (or leave it out)")
    if retries < 0:
        raise ValueError(f"--retries {retries}: give 0 or more retries of a failed model")


def check_resources(ray, cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Say so now, rather than let Ray wait forever for a node the cluster does not have (one
    that has both the CPUs and the GPUs of a trial)."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(n.get("CPU", 0) >= cpus_per_trial and n.get("GPU", 0) >= gpus_per_trial for n in nodes):
        return
    most_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    most_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    if gpus_per_trial > 0 and not most_gpus:
        raise ValueError(
            f"--gpus-per-trial {gpus_per_trial:g}: the Ray cluster has no GPU; drop the option to "
            "train on CPUs, or add GPU nodes"
        )
    if gpus_per_trial > most_gpus:
        raise ValueError(
            f"--gpus-per-trial {gpus_per_trial:g}: no node of the Ray cluster has that many GPUs "
            f"(the largest has {most_gpus:g})"
        )
    if cpus_per_trial > most_cpus:
        raise ValueError(
            f"--cpus-per-trial {cpus_per_trial:g}: no node of the Ray cluster has that many CPUs "
            f"(the largest has {most_cpus:g})"
        )
    raise ValueError(
        f"no node of the Ray cluster has both {cpus_per_trial:g} CPUs and {gpus_per_trial:g} GPUs for "
        "a model; lower --cpus-per-trial or --gpus-per-trial"
    )


def shippable(ray, dataset) -> dict:
    """The dataset as the trials receive it through Ray's object store (one copy per node, shared
    by its workers), or ValueError when it would crowd out the smallest node's store."""
    stores = [n["Resources"].get("object_store_memory", 0) for n in ray.nodes() if n.get("Alive")]
    room = SHIP_FRACTION * min(stores, default=0)
    if dataset.nbytes > room:
        raise ValueError(
            f"the dataset is {si(dataset.nbytes)}B in memory, more than {SHIP_FRACTION:.0%} of the smallest "
            f"node's Ray object store ({si(min(stores, default=0))}B), so it cannot travel with the sweep; "
            "copy it to every node at the same path and add --data-on-nodes"
        )
    return dataset.to_arrays()


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
        raise ValueError(
            f"{getattr(e, 'cause', None) or e}; give --cpus-per-trial to choose without measuring"
        ) from None
    why = choice.describe()
    if choice.cache:  # not for a single CPU: one layout, nothing measured or cached
        why += f", {'cached in' if choice.cached else 'measured now, saved in'} {choice.cache}"
    if cluster is not None:
        why += f" on {choice.host}"
    return {"cpus_per_trial": choice.layout.threads, "why": why, **choice.to_dict()}


# --------------------------------------------------------------------------------- trials
@functools.lru_cache(maxsize=2)
def _dataset(options_json: str):
    """With --data-on-nodes: loaded once per worker process (Tune reuses actors across trials)."""
    return load_recorded_dataset(json.loads(options_json))


def run_trial(config: dict, models: dict, data: dict | None, dataset: dict, recipe: dict, engine: dict) -> None:
    """Tune trainable: train one model and report its record; a failed job raises, so Tune retries it.
    `data` is the shipped dataset (Dataset.to_arrays); None reads `dataset` from this node's disk."""
    import ray
    from ray import tune

    from .data import Dataset
    from .spec import ModelSpec
    from .train import Engine, Recipe, train

    images = Dataset.from_arrays(data) if data is not None else _dataset(json.dumps(dataset, sort_keys=True))
    record = train(
        ModelSpec.from_dict(models[config["model"]]["spec"]), images, Recipe(**recipe), Engine(**engine), progress=False
    )
    if record["status"] == "failed":
        raise RuntimeError(record["reason"])
    record["node"] = ray.get_runtime_context().get_node_id()
    tune.report({"record": json.dumps(record)})


# ---------------------------------------------------------------------------------- sweep
def run_sweep(
    directory,
    models: list[dict],
    definition: dict,
    *,
    address=None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float = 0,
    max_concurrent: int | None = None,
    retries: int = 2,
    resume: bool = False,
    progress: bool | None = None,
    data=None,
    data_on_nodes: bool = False,
) -> ResultsTable:
    """Train every model of the sweep that has no finished row yet; return the results table.

    The dataset (`data`, else loaded here from the definition) travels to the workers through
    Ray's object store, so that no node needs a copy; data_on_nodes: each worker reads it from
    the recorded path on its own node instead (for data too large to ship).

    cpus_per_trial None: the fastest CPU layout (cpu_layout) of this machine, chosen before Ray
    starts so that the probe has the CPUs to itself, or with an address, of the cluster's largest
    node; sweep.json records the layout of the latest run.
    """
    check_request(cpus_per_trial, gpus_per_trial, max_concurrent, retries)
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
    shipped = None if data_on_nodes else shippable(ray, data or load_recorded_dataset(definition["dataset"]))
    print(f"CPU layout: {layout['why']}", file=sys.stderr)
    create_directory(directory, {**definition, "layout": layout}, models)
    from ray import tune

    engine = {"device": "cuda" if gpus_per_trial > 0 else "cpu", "threads": max(1, int(cpus_per_trial))}
    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial,
            models={m["id"]: m for m in todo},
            data=shipped,
            dataset=definition["dataset"],
            recipe=definition["recipe"],
            engine=engine,
        ),
        {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
    )
    recorder = _recorder(table, {m["id"]: m for m in todo}, len(models), progress)
    tuner = tune.Tuner(
        trainable,
        param_space={"model": tune.grid_search([m["id"] for m in todo])},
        tune_config=tune.TuneConfig(
            reuse_actors=True,
            max_concurrent_trials=max_concurrent,
            trial_name_creator=lambda t: t.config["model"],
            trial_dirname_creator=lambda t: t.config["model"],
        ),
        run_config=tune.RunConfig(
            name=f"run-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(Path(directory).resolve() / "tune"),
            failure_config=tune.FailureConfig(max_failures=retries),
            callbacks=[recorder],
            verbose=0,
        ),
    )
    try:
        tuner.fit()
    finally:
        recorder.bar.close()
        table.close()
    return table


def _recorder(table: ResultsTable, models: dict, total: int, progress: bool | None):
    """A Tune callback: a table row per finished trial, retries counted, and progress on stderr:
    progress None shows a bar on a terminal and plain lines off one (a log file would otherwise
    hold nothing between the header and the summary); True a bar; False nothing."""
    from ray.tune import Callback
    from tqdm import tqdm

    on_terminal = sys.stderr.isatty()

    class Recorder(Callback):
        def __init__(self):
            self.attempts, self.failures = {}, 0
            self.done = self.earlier = len(table.finished_ids())
            self.lines = progress is None and not on_terminal
            self.bar = tqdm(
                total=total,
                initial=self.done,
                unit="model",
                file=sys.stderr,
                dynamic_ncols=True,
                disable=not (on_terminal if progress is None else progress),
            )
            self.bar.set_postfix(failed=0, refresh=False)
            self.start = self.last_line = self.last_finish = time.monotonic()

        def finish(self, trial, record: dict) -> None:
            model_id = trial.config["model"]
            table.add(result_row(models[model_id], record, self.attempts.get(model_id, 0) + 1))
            self.done += 1
            self.bar.update(1)
            self.report(finished=True)

        def report(self, finished: bool) -> None:
            """A line every PROGRESS_EVERY seconds, and at each finished model when models finish
            less often than that."""
            now = time.monotonic()
            due = now - self.last_line >= PROGRESS_EVERY or (finished and now - self.last_finish >= PROGRESS_EVERY)
            if finished:
                self.last_finish = now
            if due and self.lines:
                self.last_line = now
                print(
                    progress_line(self.done, total, self.failures, now - self.start, self.done - self.earlier),
                    file=sys.stderr,
                    flush=True,
                )

        def on_step_end(self, iteration, trials, **info):
            self.report(finished=False)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.finish(trial, json.loads(result["record"]))

        def on_trial_recover(self, iteration, trials, trial, **info):
            self.attempts[trial.config["model"]] = self.attempts.get(trial.config["model"], 0) + 1

        def on_trial_error(self, iteration, trials, trial, **info):
            self.failures += 1
            self.bar.set_postfix(failed=self.failures, refresh=False)
            self.finish(trial, {"status": "failed", "reason": _error_summary(trial)})

    return Recorder()


def progress_line(done: int, total: int, failed: int, elapsed: float, trained: int) -> str:
    """Progress as one plain line, e.g. `12 of 66 models done, 0 failed, 4m10s elapsed, ~18m45s left`:
    the time left at the rate of this run (`trained` models in `elapsed` seconds), once it has one."""
    line = f"{done} of {total} models done, {failed} failed, {_duration(elapsed)} elapsed"
    if trained and done < total:
        line += f", ~{_duration(elapsed / trained * (total - done))} left"
    return line


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _error_summary(trial) -> str:
    """The last line of the trial's error (the exception), as one line."""
    path = getattr(trial, "error_file", None) or ""
    text = Path(path).read_text() if path and Path(path).is_file() else str(getattr(trial, "error_msg", "") or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "the trial failed"
