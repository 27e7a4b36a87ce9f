"""Complexity speed: one spec through the scalar path, many through the vectorized path, and the
naive alternative (build the torch model and count with forward hooks), in one process.

    python benchmarks/bench_complexity.py
"""

import sys
import time
from pathlib import Path

import numpy as np

import designspace as ds
from designspace.complexity import complexity_arrays, complexity_many

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hook_count import measured_complexity  # noqa: E402


def per_call(fn, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main():
    records = ds.load_space("anynetx_a").sample(2000, seed=0)
    specs = [ds.ModelSpec.from_dict(r["spec"]) for r in records]
    zoo = ds.regnet.make_spec(22, 24, 24.48, 2.54, 16)  # RegNetX-400MF

    scalar = per_call(lambda: ds.complexity(zoo), 20000)
    start = time.perf_counter()
    for s in specs:
        ds.complexity(s)
    loop = (time.perf_counter() - start) / len(specs)
    many = specs * 50
    start = time.perf_counter()
    complexity_many(many)
    vectorized = (time.perf_counter() - start) / len(many)
    stage_arrays = [np.array([getattr(s, k) for s in many])
                    for k in ("depths", "widths", "strides", "bottleneck_ratios", "group_widths")]
    start = time.perf_counter()
    complexity_arrays(ds.load_space("anynetx_a").context, *stage_arrays)
    arrays = (time.perf_counter() - start) / len(many)
    hooks = per_call(lambda: measured_complexity(ds.build_model(zoo), 3, 224), 3)

    print("complexity per network")
    print(f"  scalar, RegNetX-400MF              {scalar * 1e6:9.1f} us")
    print(f"  scalar, AnyNetX_A samples           {loop * 1e6:9.1f} us")
    print(f"  vectorized, {len(many):,} AnyNetX_A specs {vectorized * 1e6:9.2f} us   "
          f"({loop / vectorized:.0f}x the scalar loop, ModelSpec objects in)")
    print(f"  vectorized, the same as (N, S) arrays  {arrays * 1e6:9.2f} us   "
          f"({loop / arrays:.0f}x the scalar loop; what the sampler uses)")
    print(f"  torch model + forward hooks        {hooks * 1e3:9.1f} ms   "
          f"({hooks / scalar:,.0f}x the scalar path)")


if __name__ == "__main__":
    main()
