"""The analysis commands of the `designspace` CLI: report, edf, study and fidelity.

`register(commands)` adds them to the CLI's subparsers. Each command raises ValueError with a
one-line message on bad input, which the CLI prints as `designspace: error: ...` (exit 2).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..complexity import COMPLEXITY
from ..output_files import check_writable
from .ablation import FACTOR_KEYS
from .columns import ERROR_METRICS
from .fits import SAMPLE, TOP

SOURCES_HELP = "sweep directories (DIR/results.parquet), results .parquet files, pycls sweep.json or NDS .json files"


def register(commands) -> None:
    """Add `report`, `edf`, `study` and `fidelity` to the `designspace` subparsers."""
    from ..options import positive_int, window

    def comparison_options(parser):
        parser.add_argument("--metric", choices=ERROR_METRICS, default="best_error",
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

    study = commands.add_parser("study", help="run the sweeps a study file names (studies/*.toml) and report",
                                description="Report on the sweeps of a study file: with --run, first run every "
                                            "sweep it still lacks (resuming unfinished ones); without, sweeps "
                                            "without results are listed with the commands that make them.")
    study.add_argument("file", help="a study file, e.g. studies/swish_vs_relu.toml")
    study.add_argument("-o", "--output", help="the report (default: the study's output, else NAME.html)")
    what = study.add_mutually_exclusive_group()
    what.add_argument("--run", action="store_true", dest="run_sweeps",
                      help="first start every missing sweep and resume every unfinished one (after printing how "
                           "long each will train), then report; Ctrl-C stops it, the same command resumes")
    what.add_argument("--commands", action="store_true",
                      help="print the commands of the sweeps still to run or finish, each with its estimated "
                           "training time, and stop")
    study.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the fit sample (default 0)")
    study.set_defaults(run=cmd_study)

    fidelity = commands.add_parser(
        "fidelity", help="how well short training ranks models: per epoch, across budgets, across spaces",
        description="Rank correlation (Spearman, Kendall, 95% bootstrap intervals) of each epoch's test error with "
                    "the last epoch's; of the same models' errors at two budgets (sweeps sharing model ids at "
                    "different epochs x training images); and whether two spaces compare the same way at both "
                    "budgets.")
    fidelity.add_argument("sweeps", nargs="+", metavar="DIR", help=SOURCES_HELP)
    fidelity.add_argument("-o", "--output", help="also draw the figure: .png or .svg")
    fidelity.add_argument("--metric", choices=ERROR_METRICS, default="best_error",
                          help="error compared across budgets (default best_error)")
    fidelity.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    fidelity.set_defaults(run=cmd_fidelity)


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
                        fit_sample=args.fit_sample or None, ablations=_ablations(args.ablations), progress=True)
    print(f"wrote {path}", file=sys.stderr)


def cmd_edf(args) -> None:
    from . import plot
    from .compare import check_comparable, curves, ks_table, normalized_curves
    from .load import load_all

    plot.figure_format(args.output)
    check_writable(args.output)
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
    print(f"±: half-width of the {plot.BAND} at each sweep's {'effective ' if args.normalize else ''}n",
          file=sys.stderr)
    for c in shown:
        print(plot.band_label(c.name, c.errors, c.weights))
    if len(shown) > 1:
        for row in ks_table(shown).itertuples(index=False):
            result = row.verdict if math.isnan(row.D) else (
                f"D={row.D:.3f} (95% interval {row.D_low:.3f} to {row.D_high:.3f}) p={row.p:.3g} "
                f"D_detectable={row.D_detectable:.3f}, {row.verdict}")
            print(f"KS {row.a} vs {row.b}: {result}")
    print(f"wrote {path}", file=sys.stderr)


def cmd_study(args) -> None:
    from .study import estimates, load_study, progress_text, run_study, run_sweeps, total_text

    if Path(args.file).parts[:1] == ("analysis",):
        print("note: the study files moved from analysis/ to studies/ (analysis/ is a link to it until the next "
              f"release); use {Path('studies', *Path(args.file).parts[1:])}", file=sys.stderr)
    study = load_study(args.file)
    study.report_path(args.output)
    if args.commands or args.run_sweeps:
        found = estimates(study)
        for sweep, _, text in found:
            if args.commands:
                print(f"{sweep.command}  # {text}")
            else:
                print(f"{sweep.name}: {text}" + (f", resumed ({progress_text(sweep)})" if sweep.started else ""),
                      file=sys.stderr)
        left = f"; the others: {total_text(found)}" if found else ""
        print(f"{len(study.sweeps) - len(found)} of {len(study.sweeps)} sweeps finished{left}", file=sys.stderr,
              flush=True)
        if args.commands:
            return
        run_sweeps(study)
    path, study = run_study(args.file, args.output, seed=args.seed, progress=True)
    for sweep in study.missing:
        print(f"missing {sweep.path}: {sweep.command}", file=sys.stderr)
    for sweep in study.unfinished:
        print(f"unfinished {sweep.path} ({progress_text(sweep)}): {sweep.command}", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)


def cmd_fidelity(args) -> None:
    from . import plot
    from .fidelity import FORMATS, RESAMPLES, proxy_fidelity, readable
    from .load import load_all

    if args.output:
        plot.figure_format(args.output)
        check_writable(args.output)
    result = proxy_fidelity(load_all(args.sweeps), args.metric, args.seed)
    if result.empty:
        raise ValueError("; ".join(result.notes))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    formatters = {column: (lambda v, f=f: format(v, f)) for column, f in FORMATS.items()}
    interval = f" (95% bootstrap intervals, {RESAMPLES:,} resamples of the models)"
    blocks = [f"# {heading}\n" + readable(table).to_string(index=False, formatters=formatters) for heading, table in (
        ("rank correlation of each epoch's test error with the last epoch's" + interval, result.epochs),
        (f"rank correlation of the same models' {args.metric} at two budgets" + interval, result.budgets),
        ("two spaces at the same two budgets: median error difference (a - b) and KS test", result.orders),
    ) if len(table)]
    print("\n\n".join(blocks))
    if args.output:
        print(f"wrote {plot.save(plot.fidelity_figure(result, args.metric), args.output)}", file=sys.stderr)
