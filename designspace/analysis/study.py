"""Studies as TOML files (analysis/*.toml): which sweeps a comparison needs, how to make them, and
how to report on them.

    title = "Swish vs ReLU"
    description = "..."            # shown at the top of the report
    normalize = "flops"            # optional, as `designspace report --normalize`
    metric = "best_error"          # optional
    bins = 10                      # optional normalization bins
    ablations = ["activation"]     # optional: the ablation sections to include (default: all)
    output = "results/reports/swish_vs_relu.html"

    [[sweeps]]
    name = "ReLU"                  # optional legend name (default: the directory's name)
    path = "results/regnetx_relu"  # the sweep directory
    run = "designspace sweep --space regnetx --n 100 --dataset fashion-mnist --epochs 10 -o results/regnetx_relu"

Relative paths are taken from the directory designspace runs in (the repository root for the
shipped studies), as the -o of the run commands is.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .ablation import FACTOR_KEYS
from .load import COMPLEXITY, METRICS, RESULTS_FILE, load_all

KEYS = {"title", "description", "normalize", "metric", "bins", "ablations", "output", "sweeps"}
SWEEP_KEYS = {"name", "path", "run"}


@dataclass
class StudySweep:
    name: str
    path: Path
    run: str

    @property
    def ready(self) -> bool:
        return (self.path / RESULTS_FILE).is_file()


@dataclass
class Study:
    file: Path
    title: str
    sweeps: list[StudySweep]
    description: str = ""
    normalize: str | None = None
    metric: str = "best_error"
    bins: int | None = None
    ablations: tuple[str, ...] = FACTOR_KEYS
    output: Path | None = None
    missing: list[StudySweep] = field(init=False)

    def __post_init__(self):
        self.missing = [s for s in self.sweeps if not s.ready]


def load_study(path) -> Study:
    """Read and check a study file; ValueError names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such study file")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}")
    sweeps = data.get("sweeps")
    if not isinstance(sweeps, list) or not sweeps:
        raise ValueError(f"{path}: a study needs [[sweeps]] entries, each with a path and the run command")
    entries = []
    for i, entry in enumerate(sweeps, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or "run" not in entry:
            raise ValueError(f"{path}: sweep {i} needs a path (a string) and a run command")
        extra = sorted(set(entry) - SWEEP_KEYS)
        if extra:
            raise ValueError(f"{path}: sweep {i}: unknown key(s) {', '.join(extra)}; "
                             f"known: {', '.join(sorted(SWEEP_KEYS))}")
        entries.append(StudySweep(str(entry.get("name") or Path(entry["path"]).name), Path(entry["path"]),
                                  " ".join(str(entry["run"]).split())))
    metric = data.get("metric", "best_error")
    if metric not in METRICS:
        raise ValueError(f"{path}: metric {metric!r} is not one of {', '.join(METRICS)}")
    normalize = data.get("normalize")
    if normalize is not None and normalize not in COMPLEXITY:
        raise ValueError(f"{path}: normalize {normalize!r} is not one of {', '.join(COMPLEXITY)}")
    ablations = data.get("ablations", list(FACTOR_KEYS))
    if not isinstance(ablations, list):
        raise ValueError(f"{path}: ablations must be a list, e.g. [\"depth\", \"activation\"]")
    ablations = tuple(ablations)
    unknown = [a for a in ablations if a not in FACTOR_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown ablation(s) {', '.join(unknown)}; known: {', '.join(FACTOR_KEYS)}")
    bins = data.get("bins")
    if bins is not None and (not isinstance(bins, int) or bins < 1):
        raise ValueError(f"{path}: bins must be a positive integer, got {bins!r}")
    return Study(path, str(data.get("title") or path.stem), entries, str(data.get("description", "")).strip(),
                 normalize, metric, bins, ablations, _output(path, data.get("output")))


def run_study(path, output=None, seed: int = 0) -> tuple[Path, Study]:
    """Report on the study's sweeps that have results (the others are listed with their commands)."""
    from . import report

    study = load_study(path)
    ready = [s for s in study.sweeps if s.ready]
    if not ready:
        raise ValueError(f"{study.file}: none of its {len(study.sweeps)} sweeps has results yet; "
                         f"`designspace study {study.file} --commands` prints the sweeps to run")
    output = report.check_output(output or study.output or f"{study.file.stem}.html")
    text = report.build(load_all([s.path for s in ready], [s.name for s in ready]), metric=study.metric,
                        normalize=study.normalize, bins=study.bins, seed=seed, ablations=study.ablations,
                        title=study.title, intro=study.description,
                        missing=[(s.name, s.run) for s in study.missing])
    return report.save(text, output), study


def _output(path, output):
    if output is not None and not isinstance(output, str):
        raise ValueError(f"{path}: output must be a file name such as \"report.html\", got {output!r}")
    return Path(output) if output else None
