"""Where a training job's time goes: `designspace.train` run under torch.profiler on the CPU, its
wall time split into the phases it marks (batch preparation, forward, backward, optimizer step,
evaluation), and its forward and backward split by kind of operator (convolutions, batch norm,
activations). No baseline: these are shares, not speed-ups. On a GPU the host-side regions do not
time the GPU's work, so the breakdown is for CPUs.

    python benchmarks/bench_breakdown.py [--quick]
"""

import time

from bench_training import MODELS, sampled_spec, training_data
from common import Figure, run_alone, torch_threads_kept
from torch.profiler import ProfilerActivity, profile

from designspace.train import PHASES, Engine, Recipe, train

# Operator kinds by a part of the aten name (forward and backward alike).
KINDS = {
    "convolutions": ("convolution",),
    "batch norm": ("batch_norm",),
    "activations": ("relu", "threshold", "clamp_min", "silu", "sigmoid", "hardtanh"),
}


def breakdown(spec, dataset, recipe):
    """(wall seconds, {phase: seconds}, {kind: seconds}, img/s, threads) of one profiled training job,
    its thread count measured ("auto") by a warm-up job outside the profile."""
    warm_up = train(
        spec, dataset.subset(train=recipe.batch_size), Recipe(epochs=1), Engine(device="cpu"), progress=False
    )
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        record = train(spec, dataset, recipe, Engine(device="cpu", threads=warm_up["threads"]), progress=False)
        wall = time.perf_counter() - start
    events = prof.key_averages()
    phases = {phase: sum(e.cpu_time_total for e in events if e.key == region) / 1e6 for phase, region in PHASES.items()}
    kinds = {
        kind: sum(
            e.self_cpu_time_total for e in events if e.key.startswith("aten::") and any(p in e.key for p in parts)
        )
        / 1e6
        for kind, parts in KINDS.items()
    }
    return wall, phases, kinds, record["images_per_second"], record["threads"]


def figures(quick=False):
    dataset = training_data(*((1024, 500) if quick else (4096, 2000)))
    recipe = Recipe(epochs=1)
    rows = []
    with torch_threads_kept():
        for name, flops in MODELS[:1] if quick else MODELS[::2]:
            spec, mflops = sampled_spec(name, flops, dataset)
            wall, phases, kinds, speed, threads = breakdown(spec, dataset, recipe)
            what = (
                f"{name} {mflops:.0f} MF on cpu ({threads} threads), one epoch of {len(dataset.train_labels):,} images"
            )
            rows.append(
                Figure(
                    f"profiled training of {what}",
                    wall,
                    note=f"{speed:,.0f} img/s under the profiler; the rest of the wall time is setup",
                )
            )
            for phase, seconds in phases.items():
                rows.append(Figure(f"- {phase}", seconds, note=f"{seconds / wall:.1%} of the wall time"))
            model_time = phases["forward"] + phases["backward"] + phases["evaluate"]
            for kind, seconds in kinds.items():
                rows.append(
                    Figure(
                        f"- {kind} (self time)",
                        seconds,
                        note=f"{seconds / model_time:.1%} of forward + backward + evaluate",
                    )
                )
    return rows


if __name__ == "__main__":
    run_alone(figures)
