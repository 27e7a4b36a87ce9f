"""The NDS reader: a data json of "On Network Design Spaces for Visual Recognition" as a results table.

Its records (a list, or the top/mid rerun groups) become rows in designspace's results-table
layout; the nets that a ModelSpec expresses get a spec, so that every spec column applies to them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..spec import BOTTLENECK_BLOCKS
from .columns import derive, number

BLOCK_TYPES = {"double_plain_block": "vanilla_block"}  # NDS names -> ModelSpec names


def read_nds(records: list[dict], path: Path, space: str):
    """NDS data records (net: per-stage ds, ws, ss, bot_muls, num_gs, stem first, or a NAS cell
    genotype with depth and width; optim, flops, params, min_test_top1 and per-epoch lists) of the
    file at `path` (ImageNet when its name ends in _in) as a derived results table, its models in `space`."""
    import pandas as pd

    imagenet = path.stem.endswith("_in")
    rows = []
    for index, r in enumerate(records):
        net, optim = r.get("net") or {}, r.get("optim") or {}
        errors = [float(e) for e in r.get("test_ep_top1") or []]
        best = number(r.get("min_test_top1"))
        spec, sample = _nds_spec(net, imagenet)
        row = {
            "id": str(r.get("job_id", index)),
            "space": space,
            "seed": r.get("rng_seed"),
            "index": index,
            **sample,
            "sample.lr": optim.get("base_lr"),
            "sample.wd": optim.get("wd"),
            "spec": json.dumps(spec, sort_keys=True) if spec else None,
            "flops": number(r.get("flops")),
            "params": number(r.get("params")),
            "status": "ok" if math.isfinite(best) else "diverged",
            "reason": None if math.isfinite(best) else "no finite min_test_top1",
            "best_error": best,
            "final_error": errors[-1] if errors and math.isfinite(best) else math.nan,
            "train_loss": [float(v) for v in r.get("train_ep_loss") or []],
            "test_error": errors,
            "epochs": len(errors),
            "dataset": "imagenet" if imagenet else "cifar10",
            "recipe": json.dumps(optim, sort_keys=True),
        }
        if "rerun_group" in r:
            row["rerun_group"] = r["rerun_group"]
        rows.append(row)
    return derive(pd.DataFrame(rows))


def _nds_spec(net: dict, imagenet: bool) -> tuple[dict | None, dict]:
    """(ModelSpec dict or None, sample columns) of an NDS net; the first list entry is the stem.

    NDS counts groups (num_gs) and bottleneck multipliers (bot_muls = 1/b); group width is the
    inner width over the number of groups. A net that no ModelSpec expresses (a NAS cell, groups
    that do not divide the inner width) keeps its sample columns and gets no spec.
    """
    from ..spec import ModelSpec

    if "ds" not in net:
        return None, {f"sample.{k}": net.get(k) for k in ("depth", "width") if k in net}
    ds, ws, ss = (list(net.get(k, []))[1:] for k in ("ds", "ws", "ss"))
    block_type = BLOCK_TYPES.get(net.get("block_type"), net.get("block_type"))
    bottleneck = block_type in BOTTLENECK_BLOCKS
    bot_muls = list(net.get("bot_muls", []))[1:] if bottleneck else [1.0] * len(ds)
    num_gs = list(net.get("num_gs", []))[1:] if bottleneck else [1] * len(ds)
    sample = {"sample.depth": json.dumps(ds), "sample.width": json.dumps(ws)}
    if bottleneck:
        sample["sample.bottleneck_ratio"] = json.dumps([1.0 / m for m in bot_muls])
        sample["sample.num_groups"] = json.dumps(num_gs)
    try:
        inner = [round(w * m) for w, m in zip(ws, bot_muls)]
        spec = ModelSpec(
            stem_type="res_stem_in" if imagenet else "res_stem_cifar",
            stem_width=int(net["ws"][0]),
            block_type=block_type,
            depths=ds,
            widths=ws,
            strides=ss,
            bottleneck_ratios=[1.0 / m for m in bot_muls],
            group_widths=[i // g if bottleneck else w for i, g, w in zip(inner, num_gs, ws)],
            num_classes=1000 if imagenet else 10,
            resolution=224 if imagenet else 32,
        )
    except (ValueError, TypeError, KeyError, ZeroDivisionError, IndexError):
        return None, sample
    if bottleneck and any(i % g for i, g in zip(inner, num_gs)):
        return None, sample
    return spec.to_dict(), sample
