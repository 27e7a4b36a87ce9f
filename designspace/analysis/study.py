"""Studies as TOML files (studies/*.toml): which sweeps a comparison needs, how to make them, and
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
shipped studies), as the -o of the run commands is. A sweep is finished when every model of its
sweep.json has a finished row (a results table without sweep.json, e.g. copied in, counts as
finished); `designspace study FILE --run` starts the missing sweeps and resumes the unfinished
ones (their command plus --resume), each as `designspace sweep` would run it, then reports.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..complexity import COMPLEXITY
from ..results import DEFINITION_FILE, FINISHED, has_rows, read_definition, read_rows
from .ablation import FACTOR_KEYS
from .columns import ERROR_METRICS
from .load import load_all

if TYPE_CHECKING:
    from ..estimate import Estimate

KEYS = {"title", "description", "normalize", "metric", "bins", "ablations", "output", "sweeps"}
SWEEP_KEYS = {"name", "path", "run"}


@dataclass
class StudySweep:
    name: str
    path: Path
    run: str

    @property
    def has_results(self) -> bool:
        return has_rows(self.path)

    @property
    def started(self) -> bool:
        """The sweep has begun in its directory (sweep.json), so its command continues with --resume."""
        return (self.path / DEFINITION_FILE).is_file()

    def progress(self) -> tuple[int, int | None]:
        """(models with a finished row, models in the sweep: sweep.json's n, None without one)."""
        finished = 0
        if self.has_results:
            finished = int(read_rows(self.path)["status"].isin(FINISHED).sum())
        total = read_definition(self.path, required=("n",))["n"] if self.started else None
        return finished, total

    @property
    def ready(self) -> bool:
        """Finished: every model has a finished row (a failed one is trained again on resume)."""
        finished, total = self.progress()
        return self.has_results and (total is None or finished >= total)

    @property
    def command(self) -> str:
        """The command that makes or finishes the sweep."""
        return self.run + " --resume" * self.started

    def arguments(self):
        """The run command's options, parsed by the CLI's parser; its -o must be the sweep's path."""
        from ..estimate import sweep_arguments

        argv = shlex.split(self.command)
        if argv[:1] != ["designspace"]:
            raise ValueError(f"sweep {self.name}: its run command must start with `designspace sweep`, "
                             f"got {self.run!r}")
        args = sweep_arguments(argv[1:])
        if not args.output or Path(args.output) != self.path:
            raise ValueError(f"sweep {self.name}: its run command writes to {args.output or 'no -o DIR'}, not to its path "
                             f"{self.path}")
        return args


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
    missing: list[StudySweep] = field(init=False)  # no results yet
    unfinished: list[StudySweep] = field(init=False)  # some results, not all models finished

    def __post_init__(self):
        self.missing = [s for s in self.sweeps if not s.has_results]
        self.unfinished = [s for s in self.sweeps if s.has_results and not s.ready]

    def report_path(self, output=None) -> Path:
        """Where the report goes (-o, else the study's output, else FILE.html), checked to be
        writable before any sweep runs or any report is built."""
        from . import report

        return report.check_output(output or self.output or f"{self.file.stem}.html")

    @property
    def todo(self) -> list[StudySweep]:
        """The sweeps still to run or finish, in the study's order."""
        return [s for s in self.sweeps if s in self.missing or s in self.unfinished]


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
    if metric not in ERROR_METRICS:
        raise ValueError(f"{path}: metric {metric!r} is not one of {', '.join(ERROR_METRICS)}")
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


def run_study(path, output=None, seed: int = 0, progress: bool = False) -> tuple[Path, Study]:
    """Report on the study's sweeps that have results (an unfinished one with a note saying so; the
    others are listed with their commands)."""
    from . import report

    study = load_study(path)
    ready = [s for s in study.sweeps if s.has_results]
    if not ready:
        raise ValueError(f"{study.file}: none of its {len(study.sweeps)} sweeps has results yet; "
                         f"`designspace study {study.file} --run` runs them, --commands prints them")
    output = study.report_path(output)
    text = report.build(load_all([s.path for s in ready], [s.name for s in ready]), metric=study.metric,
                        normalize=study.normalize, bins=study.bins, seed=seed, ablations=study.ablations,
                        title=study.title, intro=study.description,
                        missing=[(s.name, s.command) for s in study.missing],
                        notes=[f"{s.name} is unfinished ({progress_text(s)}); `designspace study {study.file} --run` "
                               "finishes it" for s in study.unfinished], progress=progress)
    return report.save(text, output), study


def progress_text(sweep: StudySweep) -> str:
    finished, total = sweep.progress()
    return f"{finished} of {total} models finished"


def estimates(study: Study) -> list[tuple[StudySweep, Estimate | None, str]]:
    """Each sweep still to run or finish, its Estimate (designspace.estimate) and its text, or None
    and the reason there is none (its data missing, GPU trials); a run command that is no valid
    sweep of its path is an error."""
    from ..estimate import estimate_sweep

    found = []
    for sweep in study.todo:
        args = sweep.arguments()
        try:
            estimate = estimate_sweep(args)
        except (ValueError, OSError) as e:  # what `designspace sweep` would stop on with a one-line error
            found.append((sweep, None, f"no estimate: {e}"))
        else:
            found.append((sweep, estimate, estimate.describe()))
    return found


def total_text(found) -> str:
    """The training time left in all (the sweeps run one after another), from those with an estimate."""
    from ..estimate import duration

    timed = [e for _, e, _ in found if e is not None]
    if not timed:
        return "no estimate"
    where = " / ".join(sorted({e.speed.where for e in timed}))
    unknown = f" ({len(found) - len(timed)} sweep(s) without an estimate)" if len(timed) < len(found) else ""
    return f"~{duration(sum(e.seconds for e in timed))} of training {where}{unknown}"


def run_sweeps(study: Study) -> None:
    """Start each missing sweep and resume each unfinished one, in the study's order, exactly as
    its command would run; stop at the first that does not
    finish: exit 130 after a Ctrl-C, saying how to resume, a ValueError after a failure."""
    todo = study.todo
    for i, sweep in enumerate(todo, 1):
        print(f"sweep {i} of {len(todo)}, {sweep.name}: {sweep.command}", file=sys.stderr, flush=True)
        code = _run_designspace(shlex.split(sweep.command)[1:])
        if code == 130:
            print(f"study interrupted during sweep {sweep.name}; run `designspace study {study.file} --run` again "
                  "to resume it", file=sys.stderr)
            raise SystemExit(130)
        if code:
            raise ValueError(f"sweep {sweep.name} stopped with exit code {code}; once its problem is fixed, "
                             f"`designspace study {study.file} --run` goes on")


def _run_designspace(argv: list[str]) -> int:
    """`designspace ARGV` in a process of its own (its own Ray, its own signal handlers), as its
    exit code. It runs in its own session, so a Ctrl-C reaches it once: passed on from here at
    once, and the sweep stops cleanly and exits 130."""
    child = subprocess.Popen([sys.executable, "-m", "designspace", *argv], start_new_session=True)
    handler = signal.signal(signal.SIGINT, lambda signum, frame: child.send_signal(signal.SIGINT))
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, handler)


def _output(path, output):
    if output is not None and not isinstance(output, str):
        raise ValueError(f"{path}: output must be a file name such as \"report.html\", got {output!r}")
    return Path(output) if output else None
