"""Complexity: one spec through the scalar path against building the torch model and counting
with forward hooks, and many specs through the vectorized paths against the scalar loop.

    python benchmarks/bench_complexity.py [--quick]
"""

import numpy as np
from common import Figure, best_time, per_call, run_alone
from hook_count import measured_complexity

import designspace as ds
from designspace.complexity import complexity_arrays, complexity_many

STAGE_FIELDS = ("depths", "widths", "strides", "bottleneck_ratios", "group_widths")


def figures(quick=False):
    space = ds.load_space("anynetx_a")
    specs = [ds.ModelSpec.from_dict(r["spec"]) for r in space.sample(500 if quick else 2000, seed=0)]
    many = specs * (10 if quick else 50)
    zoo = ds.regnet.make_spec(22, 24, 24.48, 2.54, 16)  # RegNetX-400MF

    scalar = per_call(lambda: ds.complexity(zoo), 2000 if quick else 20000)
    hooks = per_call(lambda: measured_complexity(ds.build_model(zoo), 3, 224), 1)
    loop = best_time(lambda: [ds.complexity(s) for s in specs])[0] / len(specs)
    vectorized = best_time(lambda: complexity_many(many))[0] / len(many)
    arrays = [np.array([getattr(s, field) for s in many]) for field in STAGE_FIELDS]
    from_arrays = best_time(lambda: complexity_arrays(space.context, *arrays))[0] / len(many)
    scalar_loop = "complexity(spec) in a loop"
    return [
        Figure("complexity(spec), RegNetX-400MF", scalar, hooks, "build the torch model, count with forward hooks"),
        Figure(
            f"complexity of {len(many):,} AnyNetX_A ModelSpecs, vectorized, per spec", vectorized, loop, scalar_loop
        ),
        Figure("the same from (N, stages) arrays, per spec (the sampler's path)", from_arrays, loop, scalar_loop),
    ]


if __name__ == "__main__":
    run_alone(figures)
