"""CPU thread layout: how many training jobs run at once on this machine, with how many threads each.

On a CPU the layout decides a sweep's throughput more than anything else: small models scale
badly across threads, so N jobs x 1 thread often trains several times more models per hour than
1 job x N threads, but not for every machine and model size. So the layout is measured, not
guessed: each candidate runs a few real training steps of a representative model in as many
concurrent processes as the layout has jobs (as Ray's workers would run them), and the fastest
wins, unless a layout with more jobs comes within MARGIN of it: jobs with several threads lose the
most when anything else runs on the machine (on the 2-CPU development machine, beside one busy
process, 1 job x 2 threads trained the probe model at 177-229 img/s, 2 jobs x 1 thread at 523-555;
benchmarks/README.md), and a sweep always has Ray beside it. The answer is cached per machine (CPU model, CPU count, torch version),
so only the first sweep on a machine pays for the probe (about 15 s on 2 CPUs). A cached answer is
measured again when it is older than MAX_AGE_DAYS, or when it is implausible (a probe that ran
beside other work once cached "1x2 27 img/s" against "2x1 353") and an hour old; delete the cache
file to measure again now.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cpus import available_cpus, cpu_model, thread_counts
from .output_files import atomic_write
from .ray_connection import seconds_from_env

# A RegNetX of the size of the README's `designspace train` example, on 28 px synthetic images.
PROBE_SPACE, PROBE_FLOPS, PROBE_RESOLUTION = "regnetx", (5e6, 15e6), 28
PROBE_STEPS = 6  # timed steps of batch 128 per job, after one warm-up step
MARGIN = 0.1  # a layout with more jobs wins when it comes within this fraction of the fastest
CACHE_FILE = "cpu_layout.json"
MAX_AGE_DAYS = 90  # the machine's load, kernel or BLAS may have changed since
RETRY_IMPLAUSIBLE = 3600  # seconds after which an implausible measurement is taken again
LAYOUT_WAIT = 600.0  # seconds a cluster may keep the probe from its largest node; $DESIGNSPACE_LAYOUT_WAIT overrides
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Layout:
    """`jobs` training jobs at once, each with `threads` torch threads."""

    jobs: int
    threads: int

    def __str__(self) -> str:
        return f"{self.jobs}x{self.threads}"

    def describe(self) -> str:
        return f"{self.jobs} job{'s' * (self.jobs > 1)} x {self.threads} thread{'s' * (self.threads > 1)}"


@dataclass(frozen=True)
class Choice:
    """The chosen layout, the images/s measured for every candidate ("JOBSxTHREADS"), whether it
    came from the cache, and the machine and cache file it belongs to."""

    layout: Layout
    images_per_second: dict[str, float]
    cached: bool
    host: str = field(default_factory=platform.node)
    cache: str = ""

    def describe(self) -> str:
        measured = ", ".join(f"{name} {speed:,.0f}" for name, speed in self.images_per_second.items())
        return f"{self.layout.describe()} ({f'img/s {measured}' if measured else 'the only layout'})"

    def to_dict(self) -> dict:
        return {
            "jobs": self.layout.jobs,
            "threads": self.layout.threads,
            "images_per_second": self.images_per_second,
            "host": self.host,
        }


def layouts(cpus: int) -> list[Layout]:
    """Every candidate layout of `cpus` CPUs, most jobs first."""
    return [Layout(cpus // t, t) for t in thread_counts(cpus)]


def cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "designspace" / CACHE_FILE


def machine_key(cpus: int) -> str:
    """What the fastest layout depends on: the CPU, how many of it, torch (and the probe itself)."""
    import torch

    lo, hi = PROBE_FLOPS
    return (
        f"{cpu_model()} | {cpus} CPUs | torch {torch.__version__} | probe {PROBE_SPACE} "
        f"{lo / 1e6:g}-{hi / 1e6:g}MF {PROBE_RESOLUTION}px, margin {MARGIN:g}"
    )


def cached_layout(cpus: int | None = None, cache: Path | None = None) -> Choice | None:
    """This machine's layout from its cache, or None when it was never measured here."""
    cpus = cpus or available_cpus()
    cache = cache or cache_path()
    entry = _read_cache(cache).get(machine_key(cpus))
    if entry is None or not trustworthy(entry, cpus):
        return None
    return Choice(Layout(entry["jobs"], entry["threads"]), entry["images_per_second"], cached=True, cache=str(cache))


def trustworthy(entry: dict, cpus: int, now: float | None = None) -> bool:
    """Whether a cached measurement may still be used: taken less than MAX_AGE_DAYS ago, and, when
    it is implausible (a layout slower than half of what one single-threaded job per CPU-share
    would give, the fastest / cpus, which only a probe disturbed by other work measures), less
    than RETRY_IMPLAUSIBLE seconds ago: a machine that stays busy is measured again hourly, not
    before every sweep."""
    try:
        age = (now or time.time()) - time.mktime(time.strptime(entry.get("measured", ""), TIME_FORMAT))
    except ValueError:  # written by hand or by an older version: no date to go by
        age = math.inf
    speeds = list(entry.get("images_per_second", {}).values())
    plausible = not speeds or min(speeds) >= max(speeds) / (2 * cpus)
    if age == math.inf:
        return plausible
    return age <= MAX_AGE_DAYS * 86400 and (plausible or age <= RETRY_IMPLAUSIBLE)


def fastest_layout(cpus: int | None = None, steps: int = PROBE_STEPS, cache: Path | None = None) -> Choice:
    """This machine's fastest layout: from the cache, else measured (and cached)."""
    cpus = cpus or available_cpus()
    cache = cache or cache_path()
    known = cached_layout(cpus, cache)
    if known:
        return known
    candidates = layouts(cpus)
    if len(candidates) == 1:
        return Choice(candidates[0], {}, cached=False)
    speeds = {str(layout): measure(layout, steps) for layout in candidates}
    fastest = max(speeds.values())
    chosen = next(layout for layout in candidates if speeds[str(layout)] >= (1 - MARGIN) * fastest)
    entries = _read_cache(cache)
    entries[machine_key(cpus)] = {
        "jobs": chosen.jobs,
        "threads": chosen.threads,
        "images_per_second": speeds,
        "measured": time.strftime(TIME_FORMAT),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(cache, lambda tmp: Path(tmp).write_text(json.dumps(entries, indent=2) + "\n"))
    return Choice(chosen, speeds, cached=False, cache=str(cache))


def cluster_layout(ray) -> Choice:
    """The fastest layout of the Ray cluster's largest node, for a sweep sent to a cluster (whose
    trials do not run on the machine that sends it). A task that takes no CPU reads that node's
    cache; only when the node was never measured does a task holding all its CPUs (so that the
    probe has them to itself; it waits while other work holds any) measure and cache it there."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    largest = max(nodes, key=lambda node: node["Resources"].get("CPU", 0), default=None)
    cpus = int(largest["Resources"].get("CPU", 0)) if largest else 0
    if cpus < 1:
        raise ValueError("the Ray cluster offers no CPUs; add CPU nodes, or train on GPUs with --gpus-per-trial")
    on_node = NodeAffinitySchedulingStrategy(largest["NodeID"], soft=False)
    known = ray.get(ray.remote(num_cpus=0, scheduling_strategy=on_node)(cached_layout).remote(cpus))
    if known:
        return known
    host = largest["NodeManagerAddress"]
    wait = seconds_from_env("DESIGNSPACE_LAYOUT_WAIT", LAYOUT_WAIT, "for a free node to measure the CPU layout on")
    print(
        f"measuring the CPU layout on {host} ({cpus} CPUs, once; it starts when no other work holds them, "
        f"within {wait / 60:.0f} min)",
        file=sys.stderr,
        flush=True,
    )
    probe = ray.remote(num_cpus=cpus, scheduling_strategy=on_node)(fastest_layout).remote(cpus)
    started, _ = ray.wait([probe], timeout=wait)
    if not started:
        ray.cancel(probe, force=True)
        raise ValueError(
            f"the CPU layout of {host} ({cpus} CPUs) was not measured: other work held its CPUs for "
            f"{wait:.0f} s; give --cpus-per-trial C (the CPUs and torch threads per model) instead"
        )
    return ray.get(probe)


def _read_cache(path: Path) -> dict:
    """The cached entries; an unreadable or foreign file counts as empty (it is rewritten)."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def measure(layout: Layout, steps: int = PROBE_STEPS) -> float:
    """Training images/s of the whole machine: `layout.jobs` processes train the probe model at
    once, `layout.threads` threads each, released together after their warm-up; wall time from
    the first start to the last end."""
    command = [sys.executable, "-m", __name__, str(layout.threads), str(steps)]
    logs = [tempfile.TemporaryFile() for _ in range(layout.jobs)]
    jobs = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True) for log in logs
    ]
    try:
        ready = all(job.stdout.readline().strip() == "ready" for job in jobs)
        if ready:
            for job in jobs:  # the start signal: end of input
                job.stdin.close()
            spans = [job.stdout.readline() for job in jobs]
        if not ready or any(job.wait() for job in jobs):
            raise RuntimeError(f"the CPU layout probe {layout.describe()} failed: {_last_line(logs)}")
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
                job.wait()
        for log in logs:
            log.close()
    starts, ends, images = zip(*map(json.loads, spans))
    return sum(images) / (max(ends) - min(starts))


def _last_line(logs) -> str:
    """The last line the probe jobs wrote to stderr: the exception of the one that failed."""
    lines = []
    for log in logs:
        log.seek(0)
        lines += [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


def probe_dataset(train: int):
    """Synthetic 28 px images, `train` of them to train on and one batch to test."""
    from .data import synthetic
    from .recipe import Recipe

    return synthetic(seed=0, resolution=PROBE_RESOLUTION, train=train, test=Recipe().batch_size)


def probe_space(dataset):
    """The probe's design space, sampled for `dataset`'s images."""
    from .space_file import load_space

    return load_space(PROBE_SPACE).for_images(dataset.resolution, dataset.in_channels, dataset.num_classes)


def _probe_job(threads: int, steps: int) -> None:
    """One job of the probe, in its own process: warm up (oneDNN builds its kernels on the first
    step), say "ready", wait for the start signal, train one epoch of `steps` steps, and print
    when it ran."""
    from .recipe import Recipe
    from .spec import ModelSpec
    from .train import Engine, train

    engine, recipe = Engine(device="cpu", threads=threads), Recipe(epochs=1)
    data = probe_dataset(steps * recipe.batch_size)
    spec = ModelSpec.from_dict(probe_space(data).sample(1, seed=0, flops=PROBE_FLOPS)[0]["spec"])
    train(spec, data.subset(train=recipe.batch_size), recipe, engine, progress=False)
    print("ready", flush=True)
    sys.stdin.read()
    start = time.monotonic()
    record = train(spec, data, recipe, engine, progress=False)
    if record["status"] != "ok":
        raise RuntimeError(record["reason"])
    print(json.dumps([start, time.monotonic(), len(data.train_labels)]), flush=True)


if __name__ == "__main__":
    _probe_job(int(sys.argv[1]), int(sys.argv[2]))
