"""The pycls reader: a pycls sweep.json (its COLLECT output) as a results table.

pycls's published sweeps (the RegNet paper's) are one json list of jobs; each becomes one row in
designspace's results-table layout, so that they are analysed with the same commands.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..complexity import COMPLEXITY
from .columns import derive, number


def read_pycls(jobs: list[dict], space: str):
    """pycls COLLECT output (per job its cfg, complexity and per-epoch stats lists) as a derived
    results table (a DataFrame), its models in `space`."""
    import pandas as pd

    from ..pycls_config import flatten_config, from_pycls

    rows = []
    for index, job in enumerate(jobs):
        cfg = flatten_config(job["cfg"]) if isinstance(job["cfg"], dict) else {}
        test = job.get("test_ema_epoch") or job.get("test_epoch") or {}
        errors = [float(e) for e in test.get("top1_err", [])]
        planned = int(cfg.get("OPTIM.MAX_EPOCH", len(errors)) or len(errors))
        status, reason = "ok", None
        if any(math.isnan(e) for e in errors):
            status, reason = "diverged", "non-finite test error"
        elif len(errors) < planned or not errors:
            stderr = (job.get("err") or "").strip().splitlines()
            status = "failed"
            reason = f"stopped after {len(errors)} of {planned} epochs" + (f": {stderr[-1][:200]}" if stderr else "")
        try:
            spec = from_pycls(job["cfg"]).to_dict()
        except (ValueError, TypeError, KeyError) as e:
            spec, reason = None, reason or f"no spec: {e}"
        finite = [e for e in errors if not math.isnan(e)]
        row = {
            "id": Path(job.get("log_file", "")).parent.name or f"job{index}",
            "space": space,
            "seed": cfg.get("RNG_SEED"),
            "index": index,
            **_pycls_sample(cfg),
            "spec": json.dumps(spec, sort_keys=True) if spec else None,
            **{k: number(job.get("complexity", {}).get(k)) for k in COMPLEXITY},
            "status": status,
            "reason": reason,
            "best_error": min(finite) if status == "ok" else math.nan,
            "final_error": errors[-1] if status == "ok" else math.nan,
            "train_loss": [float(v) for v in job.get("train_epoch", {}).get("loss", [])],
            "test_error": errors,
            "epochs": len(errors),
            "dataset": str(cfg.get("TRAIN.DATASET", "")).lower() or None,
            "recipe": json.dumps({k[6:].lower(): v for k, v in cfg.items() if k.startswith("OPTIM.")}, sort_keys=True),
        }
        rows.append(row)
    return derive(pd.DataFrame(rows))


def _pycls_sample(cfg: dict) -> dict:
    """The sampled parameters of a pycls job, named as designspace's spaces name them."""
    sample = {"sample.lr": cfg.get("OPTIM.BASE_LR"), "sample.wd": cfg.get("OPTIM.WEIGHT_DECAY")}
    if str(cfg.get("MODEL.TYPE", "")).lower() == "regnet":
        for key, label in (("DEPTH", "depth"), ("W0", "w0"), ("WA", "wa"), ("WM", "wm"), ("GROUP_W", "group_width")):
            sample[f"sample.{label}"] = cfg.get(f"REGNET.{key}")
        bot_mul = cfg.get("REGNET.BOT_MUL")
        sample["sample.bottleneck_ratio"] = 1.0 / bot_mul if bot_mul else None
    elif str(cfg.get("MODEL.TYPE", "")).lower() == "anynet":
        for key, label in (("DEPTHS", "depth"), ("WIDTHS", "width"), ("GROUP_WS", "group_width")):
            sample[f"sample.{label}"] = json.dumps(list(cfg.get(f"ANYNET.{key}", [])))
        bot_muls = cfg.get("ANYNET.BOT_MULS", [])
        sample["sample.bottleneck_ratio"] = json.dumps([1.0 / m for m in bot_muls if m])
    return sample
