"""Every benchmark in one run, as one table: each figure is designspace's time for some work
against a baseline doing the same work, measured in the same run (ratio = baseline time /
designspace time; above 1, designspace is faster).

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]]
"""

import argparse
import sys
import time

import bench_analysis
import bench_breakdown
import bench_compile
import bench_complexity
import bench_cpu_layout
import bench_dispatch
import bench_regnet_fit
import bench_sampling
import bench_sweep
import bench_training
from common import machine, table

# In this order: the Ray benchmarks last (sweep and cpu_layout leave a local Ray instance running; dispatch
# replaces it with one of 64 logical CPUs and shuts that down).
BENCHMARKS = {
    "sampling": bench_sampling,
    "complexity": bench_complexity,
    "regnet_fit": bench_regnet_fit,
    "analysis": bench_analysis,
    "training": bench_training,
    "breakdown": bench_breakdown,
    "compile": bench_compile,
    "sweep": bench_sweep,
    "cpu_layout": bench_cpu_layout,
    "dispatch": bench_dispatch,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: the whole table in about five minutes")
    parser.add_argument("--only", help=f"comma-separated benchmarks to run, of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"run.py: error: no benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    figures, start = [], time.perf_counter()
    for name in BENCHMARKS:
        if name in names:
            began = time.perf_counter()
            figures += BENCHMARKS[name].figures(quick=args.quick)
            print(f"{name}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    print(f"{machine()}; `{command}`, {time.perf_counter() - start:.0f} s\n")
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
