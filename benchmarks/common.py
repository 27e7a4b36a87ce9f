"""What every benchmark shares: a figure (designspace's time against a baseline's, measured in the
same process), best-of-N timing, the table, and running one benchmark file alone."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from designspace.cpus import available_cpus, cpu_model

# The independent references the tests check against (forward-hook counts, the grid fit, the pycls
# zoo, generated sweeps) are the baselines here too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


@dataclass(frozen=True)
class Figure:
    """designspace's seconds for some work and, when there is one, a baseline's for the same work."""

    name: str
    ours: float
    baseline: float | None = None
    baseline_name: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Baseline time / designspace time: above 1, designspace is faster."""
        return None if self.baseline is None else self.baseline / self.ours


def best_time(function, repeat: int = 3):
    """(seconds of the fastest of `repeat` calls, its result): the least disturbed run counts."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        seconds = time.perf_counter() - start
        if seconds < best:
            best, result = seconds, value
    return best, result


def per_call(function, number: int, repeat: int = 3) -> float:
    """Seconds per call of `function`, from the fastest of `repeat` batches of `number` calls."""
    seconds, _ = best_time(lambda: [function() for _ in range(number)], repeat)
    return seconds / number


@contextmanager
def torch_threads_kept():
    """Training sets torch's thread count for the process; the benchmarks after it must not inherit it."""
    threads = torch.get_num_threads()
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def machine() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu_model()}, {available_cpus()} CPUs{gpu}, torch {torch.__version__}, Python {sys.version.split()[0]}"


def table(figures: list[Figure]) -> str:
    """A Markdown table, one figure a row."""
    lines = ["| figure | designspace | baseline | ratio | baseline is | notes |", "|---|---:|---:|---:|---|---|"]
    for f in figures:
        base, ratio = (
            ("", "") if f.ratio is None else (duration(f.baseline), f"{f.ratio:.{1 if f.ratio < 10 else 0}f}x")
        )
        lines.append(f"| {f.name} | {duration(f.ours)} | {base} | {ratio} | {f.baseline_name} | {f.note} |")
    return "\n".join(lines)


def run_alone(figures) -> None:
    """Run one benchmark file as a script: `python benchmarks/bench_NAME.py [--quick]`."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a first look")
    args = parser.parse_args()
    print(machine())
    print(table(figures(quick=args.quick)))
