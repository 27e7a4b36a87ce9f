"""The shapes of the records designspace passes around and writes: a training job's result, a
sweep's definition (sweep.json) and a sampled model.

They stay dicts on the wire and in the public API (JSON lines, Ray results, `ds.train`'s return
value), so they are TypedDicts: the keys are declared once, here, for readers and type checkers,
and the column lists derived from them cannot fall behind.
"""

from typing import NotRequired, TypedDict


class TrainRecord(TypedDict):
    """What one training job returns (designspace.train.train)."""

    status: str  # "ok", "diverged" (non-finite loss) or "failed" (reason says why)
    reason: str | None
    best_error: float | None  # top-1 test error in %, over the epochs
    final_error: float | None  # at the last epoch; None unless ok
    train_loss: list[float]  # per epoch
    test_error: list[float | None]  # per epoch; None where the loss diverged
    epochs: int  # trained
    wall_time: float  # seconds, model building included
    images_per_second: float  # training images per second of training
    device: str
    threads: int | None  # torch threads on a CPU
    node: NotRequired[str]  # the Ray node that trained it, added by a sweep
    dataset: str
    train_images: int
    test_images: int
    recipe: dict  # the Recipe as a dict


class SweepDefinition(TypedDict):
    """What identifies a sweep (sweep.json): a second run into the same directory must match."""

    n: int  # models
    models: str  # sha1 of their ids, one per line
    dataset: dict  # the data options (name, subsets, resolution, ...)
    recipe: dict
    source: dict  # how the models were chosen: space, seed, windows, network overrides, or a samples file
    layout: NotRequired[dict]  # the CPU layout the sweep ran with


class Complexity(TypedDict):
    flops: int  # multiply-adds
    params: int
    acts: int


class SampleRecord(TypedDict):
    """One sampled model, as a samples file holds it (designspace sample)."""

    id: str  # the first 12 hex digits of the sha1 of the spec's sorted JSON
    space: str
    seed: NotRequired[int]
    index: NotRequired[int]  # position in the sample
    sample: dict  # the drawn parameters by name
    spec: dict  # ModelSpec.to_dict()
    complexity: Complexity


def keys(record_type, optional=True) -> tuple[str, ...]:
    """A record type's keys in declaration order; optional=False: only those always present."""
    return tuple(k for k in record_type.__annotations__ if optional or k in record_type.__required_keys__)
