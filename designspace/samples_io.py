"""Sample files: JSON Lines (one model per line), or CSV / Parquet tables, chosen by extension.

A JSONL line holds "id", "space", "sample" (the drawn parameters), "spec" (the ModelSpec dict),
"complexity" (flops, params, acts), "index" and "seed". The tables flatten that: one column per
sampled parameter (sample.NAME), flops/params/acts, and the spec as a JSON string. Files are
written atomically, so an interrupted or failed write never leaves a half-written file.
"""

from __future__ import annotations

import json
from pathlib import Path

from .output_files import atomic_write, check_writable
from .spec import ModelSpec

FORMATS = (".jsonl", ".csv", ".parquet")
REQUIRED_KEYS = ("id", "space", "spec")


def write_samples(records: list[dict], path) -> Path:
    path = check_samples_output(path)
    if path.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    frame = samples_table(records)
    if path.suffix.lower() == ".csv":
        return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def check_samples_output(path) -> Path:
    """The path of a samples file to write, or ValueError at once (before any sampling) when its
    extension is not a format or it cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"output {str(path)!r}: use one of {', '.join(FORMATS)} as the file extension")
    return check_writable(path)


def samples_table(records: list[dict]):
    """A pandas DataFrame with one row per model (sampled parameters flattened)."""
    import pandas as pd

    return pd.DataFrame([flat_record(r) for r in records])


def flat_record(r: dict) -> dict:
    """One model's table row: id, space, seed, index, sample.NAME columns, complexity, spec JSON."""
    row = {"id": r["id"], "space": r["space"], "seed": r.get("seed"), "index": r.get("index")}
    row.update({f"sample.{k}": _cell(v) for k, v in r.get("sample", {}).items()})
    row.update(r.get("complexity", {}))
    row["spec"] = json.dumps(r["spec"], sort_keys=True)
    return row


def _cell(value):
    """Per-stage lists as JSON text, so that CSV and Parquet read back alike."""
    return json.dumps(value) if isinstance(value, list) else value


def read_samples(path) -> list[dict]:
    """Records of a sample file in any of the formats; each spec is validated."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"samples file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        try:
            lines = path.read_text().splitlines()
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text file; is this a designspace samples file?") from None
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{number}: not a JSON object; is this a designspace samples file?") from None
    elif suffix in (".csv", ".parquet"):
        records = [_from_row(row) for row in read_table(path).to_dict("records")]
    else:
        raise ValueError(f"samples file {str(path)!r}: expected one of {', '.join(FORMATS)}")
    for number, record in enumerate(records, 1):
        missing = [k for k in REQUIRED_KEYS if not isinstance(record, dict) or k not in record]
        if missing:
            raise ValueError(f"{path}: model {number} lacks {', '.join(missing)}; is this a designspace samples file?")
        try:
            ModelSpec.from_dict(record["spec"])
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: model {number} ({record['id']}): {e}") from None
    if not records:
        raise ValueError(f"{path}: holds no models")
    return records


def _from_row(row: dict) -> dict:
    try:
        spec = json.loads(row["spec"]) if isinstance(row.get("spec"), str) else row.get("spec")
    except json.JSONDecodeError:
        spec = None
    sample = {k[len("sample.") :]: _uncell(v) for k, v in row.items() if k.startswith("sample.")}
    record = {k: v for k, v in row.items() if k in ("id", "space", "seed", "index")}
    record.update(sample=sample, spec=spec, complexity={k: row[k] for k in ("flops", "params", "acts") if k in row})
    return record


def _uncell(value):
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value.tolist() if hasattr(value, "tolist") else value


def read_table(path):
    """A .csv or .parquet file as a DataFrame; ValueError naming the file when it is not one."""
    import pandas as pd

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    try:
        return pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except Exception as e:  # pandas and pyarrow raise many types for unreadable files
        raise ValueError(
            f"{path}: cannot be read as {kind} ({type(e).__name__}); is it a file that designspace wrote?"
        ) from None
