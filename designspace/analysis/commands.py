"""The analysis commands of the `designspace` CLI: report, edf and study.

`register(commands)` adds them to the CLI's subparsers. Each command raises ValueError with a
one-line message on bad input, which the CLI prints as `designspace: error: ...` (exit 2).
"""

from __future__ import annotations

import math
import sys

from .ablation import FACTOR_KEYS
from .fits import SAMPLE, TOP
from .load import COMPLEXITY, METRICS

SOURCES_HELP = "sweep directories (DIR/results.parquet), results .parquet files, pycls sweep.json or NDS .json files"


def register(commands) -> None:
    """Add `report`, `edf` and `study` to the `designspace` subparsers."""
    from ..cli import positive_int, window

    def comparison_options(parser):
        parser.add_argument("--metric", choices=METRICS, default="best_error",
                            help="error column (default best_error: the best epoch's top-1 test error)")
        parser.add_argument("--normalize", choices=COMPLEXITY,
                            help="also compare EDFs normalized by this complexity metric (NDS)")
        parser.add_argument("--bins", type=positive_int, metavar="K",
                            help="linear normalization bins (default: the most, up to 20, that give every sweep "
                                 "at least 5 models per bin)")
        parser.add_argument("--range", type=window, metavar="LO:HI", dest="complexity_range",
                            help="normalization range in raw units, e.g. 360M:400M; LO or HI may be left out "
                                 "(default: the range all sweeps cover)")

    report = commands.add_parser(
        "report", help="write an HTML analysis report of one or more sweeps",
        description="One self-contained HTML file: EDFs, KS tests, bootstrap good ranges, random-search curves, "
                    "training curves, quantized-linear fits, e_fit and ablations (the RegNet paper's, "
                    "ResNet tweaks, pre-activation, stochastic depth, cardinality).")
    report.add_argument("sweeps", nargs="+", metavar="DIR", help=SOURCES_HELP)
    report.add_argument("-o", "--output", required=True, help="the report, an .html file")
    comparison_options(report)
    report.add_argument("--ablations", default=",".join(FACTOR_KEYS), metavar="LIST",
                        help=f"comma-separated ablations to include, or none (default: all of {','.join(FACTOR_KEYS)})")
    report.add_argument("--top", type=positive_int, default=TOP, help=f"best models fitted per sweep (default {TOP})")
    report.add_argument("--fit-sample", type=int, default=SAMPLE, metavar="N",
                        help=f"other models fitted per sweep for the e_fit plot, drawn at random (default {SAMPLE}; "
                             "0 fits them all)")
    report.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the fit sample (default 0)")
    report.set_defaults(run=cmd_report)

    edf = commands.add_parser("edf", help="plot the error EDFs of sweeps (PNG or SVG)",
                              description="Plot error EDFs (n | min | mean in the legend) and print KS tests.")
    edf.add_argument("sweeps", nargs="+", metavar="DIR", help=SOURCES_HELP)
    edf.add_argument("-o", "--output", required=True, help="the figure: .png or .svg")
    comparison_options(edf)
    edf.set_defaults(run=cmd_edf)

    study = commands.add_parser("study", help="report on the sweeps a study file names (analysis/*.toml)",
                                description="Run the comparisons of a study file; sweeps without results are "
                                            "listed with the commands that make them.")
    study.add_argument("file", help="a study file, e.g. analysis/swish_vs_relu.toml")
    study.add_argument("-o", "--output", help="the report (default: the study's output, else NAME.html)")
    study.add_argument("--commands", action="store_true",
                       help="print the sweep commands of the sweeps that have no results yet, and stop")
    study.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the fit sample (default 0)")
    study.set_defaults(run=cmd_study)


def _range(window) -> tuple[float | None, float | None]:
    """--range LO:HI as (lo, hi), None for a side left out (the window parser gives 0 and inf)."""
    lo, hi = window or (0.0, math.inf)
    return (lo if lo > 0 else None), (hi if math.isfinite(hi) else None)


def _ablations(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if keys in ((), ("none",)):
        return ()
    unknown = [k for k in keys if k not in FACTOR_KEYS]
    if unknown:
        raise ValueError(f"--ablations: unknown {', '.join(unknown)}; choose from {', '.join(FACTOR_KEYS)} or none")
    return keys


def cmd_report(args) -> None:
    from . import report

    if args.fit_sample < 0:
        raise ValueError("--fit-sample: give 0 (fit every model) or a positive number")
    report.check_output(args.output)
    path = report.write(args.sweeps, args.output, metric=args.metric, normalize=args.normalize, bins=args.bins,
                        complexity_range=_range(args.complexity_range), seed=args.seed, top=args.top,
                        fit_sample=args.fit_sample or None, ablations=_ablations(args.ablations))
    print(f"wrote {path}", file=sys.stderr)


def cmd_edf(args) -> None:
    from . import plot
    from .compare import check_comparable, curves, ks_table, normalized_curves
    from .load import load_all

    plot.figure_format(args.output)
    sweeps = load_all(args.sweeps)
    for note in check_comparable(sweeps):
        print(f"note: {note}", file=sys.stderr)
    plain = curves(sweeps, args.metric)
    for sweep in sweeps:
        if sweep.excluded_text(args.metric):
            print(f"{sweep.name}: {sweep.excluded_text(args.metric)}", file=sys.stderr)
    if args.normalize:
        lo, hi = _range(args.complexity_range)
        shown, info = normalized_curves(sweeps, args.metric, args.normalize, args.bins, lo, hi)
        figure = plot.normalized_figure([(c.name, c.errors, c.weights) for c in shown], args.metric, args.normalize,
                                        [c.complexity for c in shown], info.lo, info.hi, info.bins)
    else:
        shown = plain
        figure = plot.edf_figure([(c.name, c.errors, None) for c in plain], args.metric)
    path = plot.save(figure, args.output)
    for c in shown:
        print(plot.summary_label(c.name, c.errors, c.weights))
    if len(shown) > 1:
        for row in ks_table(shown).itertuples(index=False):
            result = row.verdict if math.isnan(row.D) else f"D={row.D:.3f} p={row.p:.3g}, {row.verdict}"
            print(f"KS {row.a} vs {row.b}: {result}")
    print(f"wrote {path}", file=sys.stderr)


def cmd_study(args) -> None:
    from .study import load_study, run_study

    if args.commands:
        study = load_study(args.file)
        for sweep in study.missing:
            print(sweep.run)
        print(f"{len(study.sweeps) - len(study.missing)} of {len(study.sweeps)} sweeps have results", file=sys.stderr)
        return
    path, study = run_study(args.file, args.output, seed=args.seed)
    for sweep in study.missing:
        print(f"missing {sweep.path}: {sweep.run}", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)
