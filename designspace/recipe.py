"""The optimization recipe of a short training job (plain data, no torch, so that sweeps and
analysis can read and compare recipes cheaply)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .spec import RESIDUAL_BLOCKS

IDEMPOTENT = ("relu", "relu6")  # f(f(x)) = f(x): a zero-initialised block with one after its add is the identity


@dataclass(frozen=True)
class Recipe:
    """The optimization recipe. Defaults suit the paper's short-training regime on small images."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1  # peak learning rate for this batch size (DDS: 0.1 at batch 128)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    bn_weight_decay: bool = False  # False: no weight decay on BN parameters and biases
    warmup_epochs: float = 1.0
    warmup_factor: float = 0.1  # the first step's lr is warmup_factor * lr, rising linearly
    label_smoothing: float = 0.1
    augment: bool = True  # the dataset's random crop / flip
    drop_path: float = 0.0  # stochastic depth: the deepest residual branch's drop rate (linear decay)
    zero_init_final_bn: bool = True
    seed: int = 0

    def __post_init__(self):
        checks = {
            "epochs": (self.epochs >= 1 and int(self.epochs) == self.epochs, "a positive integer"),
            "batch_size": (self.batch_size >= 1 and int(self.batch_size) == self.batch_size, "a positive integer"),
            "lr": (math.isfinite(self.lr) and self.lr > 0, "a finite number > 0"),
            "momentum": (0 <= self.momentum < 1, "in [0, 1)"),
            "weight_decay": (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "a finite number >= 0"),
            "warmup_epochs": (math.isfinite(self.warmup_epochs) and self.warmup_epochs >= 0, "a finite number >= 0"),
            "warmup_factor": (0 < self.warmup_factor <= 1, "in (0, 1]"),
            "label_smoothing": (0 <= self.label_smoothing < 1, "in [0, 1)"),
            "drop_path": (0 <= self.drop_path < 1, "in [0, 1)"),
        }
        for name, (ok, rule) in checks.items():
            if not ok:
                raise ValueError(f"recipe.{name}: must be {rule}, got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"recipe: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def initialisation_note(self, specs) -> str | None:
        """A warning for zero-init with an activation after the residual add that is not idempotent:
        ReLU(ReLU(x)) = ReLU(x), so a zero-initialised ReLU block starts as the identity, but a
        Swish block applies Swish once more, and a stage of d blocks starts as Swish applied d
        times. In 3-epoch runs on Fashion-MNIST that cost Swish 40 points of error against its
        plain-init self (results/README.md)."""
        if not self.zero_init_final_bn:
            return None
        hit = [
            s
            for s in specs
            if s.get("activation", "relu") not in IDEMPOTENT
            and s["block_type"] in RESIDUAL_BLOCKS
            and not s.get("preactivation")
        ]
        if not hit:
            return None
        return (
            f"note: {len(hit)} model(s) use {hit[0]['activation']} after the residual add, where a zero-initialised "
            "final BN does not make a block the identity; to compare activations fairly, train every side "
            "with --no-zero-init"
        )

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        """Linear warm-up from warmup_factor * lr, then a half-period cosine down to 0."""
        total = self.epochs * steps_per_epoch
        warmup = min(int(round(self.warmup_epochs * steps_per_epoch)), total)
        if step < warmup:
            return self.lr * (self.warmup_factor + (1 - self.warmup_factor) * step / warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return self.lr * 0.5 * (1 + math.cos(math.pi * progress))
