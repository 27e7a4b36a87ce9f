"""How long a sweep will train, before it starts: from the CPU layout's measured speed and the models' flops.

cpu_layout measures (once per machine, then caches) how many training images per second the
probe model (a RegNetX of PROBE_FLOPS) gets in each layout of jobs x threads. A model of F flops
is taken to train at the probe's per-job speed times probe flops / F; it trains epochs x its train
images and evaluates epochs x its test images, a test image costing EVAL_COST of a training one
(a forward pass without the backward); the sweep's jobs share the models. It assumes the
machine as free as when the probe ran: on the 2-CPU development machine, sweeps of 10-18 MF
models took 1.05-1.4x their estimate; 2-6 MF models, whose time flops explain less well, 1.7x
(AnyNetX_A: 20 min for an estimated 12, with niced work beside it) and 3x beside a busy test suite.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass

from .cpu_layout import Layout, cached_layout, cluster_layout, fastest_layout, measure
from .cpus import available_cpus

EVAL_COST = 1 / 3  # a test image (forward only) against a training image (forward and backward)


@dataclass(frozen=True)
class Speed:
    """Probe images/s of one training job, how many jobs run at once, in what layout, and where."""

    per_job: float
    jobs: int
    layout: Layout
    where: str


@dataclass(frozen=True)
class Estimate:
    """Wall time of the models of a sweep that have no finished row yet."""

    seconds: float
    models: int
    speed: Speed

    def describe(self) -> str:
        if not self.models:
            return "nothing left to train"
        models = f"{self.models} model{'s' * (self.models != 1)}"
        return f"~{duration(self.seconds)} {self.speed.where} ({models}, {self.speed.layout.describe()})"


def duration(seconds: float) -> str:
    """45 s, 38 min, 2.4 h, 570 h: as precise as an estimate deserves."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.{1 if seconds < 10 * 3600 else 0}f} h"


def sweep_arguments(argv: list[str]):
    """The options of `designspace sweep ...` (argv without the leading `designspace`), parsed as
    the CLI parses them; ValueError for anything else."""
    from .options import sweep_parser

    if argv[:1] != ["sweep"]:
        raise ValueError(f"{' '.join(['designspace', *argv])!r} is not a `designspace sweep ...` command")
    try:
        return sweep_parser().parse_args(argv[1:])
    except SystemExit:  # the parser has printed why
        raise ValueError(f"{' '.join(['designspace', *argv])!r} is not a valid sweep command") from None


def estimate_sweep(args, speed: Speed | None = None) -> Estimate:
    """The time the sweep of these `designspace sweep` options still needs: its models sampled (or
    read) as the sweep would, less those with a finished row in its directory."""
    from .options import dataset_from, recipe_from, sweep_models
    from .results import ResultsTable

    dataset = dataset_from(args)
    models, _ = sweep_models(args, dataset)
    finished = ResultsTable(args.output).finished_ids()
    flops = [m["complexity"]["flops"] for m in models if m["id"] not in finished]
    return estimate(
        flops, recipe_from(args).epochs, len(dataset.train_labels), len(dataset.test_labels), speed or sweep_speed(args)
    )


def estimate(flops: list[float], epochs: int, train_images: int, test_images: int, speed: Speed) -> Estimate:
    """Models of these flops, trained in `speed`'s jobs: the work spread over the jobs, but no
    shorter than the longest model."""
    images = epochs * (train_images + EVAL_COST * test_images)
    seconds = [images * f / (speed.per_job * probe_flops()) for f in flops]
    jobs = max(1, min(speed.jobs, len(seconds)))
    return Estimate(max(sum(seconds) / jobs, max(seconds, default=0.0)), len(seconds), speed)


@functools.lru_cache(maxsize=1)
def probe_flops() -> int:
    """The flops of cpu_layout's probe model, which its measured images/s belong to."""
    from .cpu_layout import PROBE_FLOPS, probe_dataset, probe_space

    return probe_space(probe_dataset(1)).sample(1, seed=0, flops=PROBE_FLOPS)[0]["complexity"]["flops"]


def sweep_speed(args) -> Speed:
    """The layout the sweep would run in (cpu_layout's choice, or --cpus-per-trial; capped by
    --max-concurrent) and its measured per-job speed, on this machine or the Ray cluster it names."""
    if args.gpus_per_trial > 0:
        raise ValueError("no estimate for GPU trials (the probe measures CPUs)")
    address = args.address or os.environ.get("RAY_ADDRESS")
    if address:
        from .sweep import connect

        ray = connect(address)
        choice = cluster_layout(ray)
        node_cpus = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")]
        where = f"on the Ray cluster at {address}"
    else:
        if available_cpus() > 1 and cached_layout() is None:
            print(
                "measuring this machine's CPU layout (once, about 15 s; sweeps read it from the cache)",
                file=sys.stderr,
                flush=True,
            )
        choice = fastest_layout()
        node_cpus = [available_cpus()]
        where = "on this machine"
    cpus_per_trial = args.cpus_per_trial or choice.layout.threads
    layout = Layout(max(1, int(max(node_cpus) // cpus_per_trial)), max(1, int(cpus_per_trial)))
    measured = choice.images_per_second
    machine = measured.get(str(layout)) or measured.get(str(choice.layout))
    if not machine:  # a single CPU: nothing to choose, so nothing was measured
        if address:
            raise ValueError(
                f"no estimate: the largest node of the Ray cluster at {address} has one CPU, "
                "and its speed was never measured"
            )
        machine = measure(layout)
    jobs = sum(int(cpus // cpus_per_trial) for cpus in node_cpus)
    if not jobs:
        raise ValueError(f"no estimate: --cpus-per-trial {cpus_per_trial:g} is more CPUs than any node has")
    return Speed(machine / layout.jobs, min(jobs, args.max_concurrent or jobs), layout, where)
