"""The analysis report: one self-contained HTML file (figures embedded as base64 PNG) with every
analysis that the given populations allow.

Sections: summary (with each sweep's training setup), the ablations' verdicts against their
papers, error EDFs (n | min | mean), complexity-normalized EDFs (when asked), KS tests
between every pair, random-search efficiency, bootstrap good ranges of every sampled parameter
and complexity metric, error against each of them with the range shaded, trends across sweeps,
training curves of the best and worst models, proxy fidelity (how well short training ranks
models), quantized-linear fits of the best models (per-block widths, e_fit), e_fit against
error, and the ablations (ablation.FACTORS). What the sweeps cannot answer is said, with the
sweeps to run.
"""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

import numpy as np

from ..output_files import atomic_write, check_writable
from . import plot
from .ablation import AGREES, DISAGREES, FACTOR_KEYS, MAX_LEVELS, ablate, verdict_table
from .bootstrap import FRACTION, RESAMPLES, good_range, informative
from .compare import check_comparable, curves, ks_table, normalized_curves
from .edf import ALPHA, MIN_TEST_MODELS, SMALL_POPULATION, random_search
from .fits import SAMPLE, TOP, fit_population, stage_runs
from ..complexity import COMPLEXITY
from .columns import analysed_columns
from .load import Sweep, load_all

CURVES = 5  # best and worst models whose training curves are drawn
WIDTH_PANELS = 6  # best models whose per-block widths are drawn
BEST_ROWS = 10  # rows of the best-models table
SEARCH_SIZES = (1, 4, 16, 32, 64, 256)  # columns of the random-search table

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1320px;margin:0 auto;padding:16px 28px 60px;background:#fff}
h1{font-size:1.6em;margin:.4em 0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em}
h3{margin-top:1.6em}nav ol{columns:2;font-size:.95em}p,li{line-height:1.45;max-width:70em}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0 1em}th,td{padding:3px 10px;border-bottom:1px solid #e3e3e3;
text-align:left;white-space:nowrap}th{background:#f0f0f0}.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fbfbfb}figure{margin:.8em 0}img{max-width:100%;height:auto}
figcaption{font-size:.88em;color:#555;max-width:70em}.note{background:#fff8e1;border-left:4px solid #f0b400;
padding:6px 12px;margin:.8em 0}.finding{background:#eef5fc;border-left:4px solid #4c9be8;padding:6px 12px}
pre{background:#f4f4f4;padding:8px 12px;font-size:.88em;white-space:pre-wrap;overflow-wrap:anywhere}
.meta{color:#666;font-size:.9em}.verdict{border-left:4px solid #999;background:#f2f2f2;padding:6px 12px;font-weight:500}
.verdict.agrees{border-color:#2e7d32;background:#e9f5ea}.verdict.disagrees{border-color:#c62828;background:#fcebea}
td.wrap{white-space:normal;min-width:16em}
"""


class Page:
    """Sections of HTML, with a table of contents."""

    def __init__(self, title: str):
        self.title, self.sections = title, []

    def section(self, key: str, title: str) -> list[str]:
        parts = []
        self.sections.append((key, title, parts))
        return parts

    def render(self, meta: str) -> str:
        toc = "".join(f'<li><a href="#{k}">{html.escape(t)}</a></li>' for k, t, _ in self.sections)
        body = "".join(f'<section id="{k}"><h2>{html.escape(t)}</h2>{"".join(p)}</section>'
                       for k, t, p in self.sections)
        return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
                f'<style>{STYLE}</style></head><body><main><h1>{html.escape(self.title)}</h1>'
                f'<p class="meta">{meta}</p><nav><ol>{toc}</ol></nav>{body}</main></body></html>\n')


def _figure(fig, caption: str) -> str:
    return (f'<figure><img src="{plot.data_uri(fig)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _p(text: str, cls: str | None = None) -> str:
    return f'<p{f" class={cls!r}" if cls else ""}>{html.escape(text)}</p>'


def _commands(commands) -> str:
    return "<pre>" + html.escape("\n".join(commands)) + "</pre>"


def _table(frame, formats: dict | None = None) -> str:
    """A DataFrame as an HTML table; formats maps a column to a format spec (e.g. '.2f')."""
    formats = formats or {}

    def cell(column, value):
        number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
        if number and np.isnan(value):
            text = ""
        elif number and column in formats:
            text = format(value, formats[column])
        else:
            text = str(value)
        return f'<td{" class=n" if number else ""}>{html.escape(text)}</td>'

    numeric = [frame[c].map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)).all()
               for c in frame.columns]
    head = "".join(f'<th{" class=n" if n else ""}>{html.escape(str(c))}</th>' for c, n in zip(frame.columns, numeric))
    rows = "".join("<tr>" + "".join(cell(c, v) for c, v in zip(frame.columns, row)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def build(sweeps: list[Sweep], metric: str = "best_error", normalize: str | None = None, bins: int | None = None,
          complexity_range: tuple[float | None, float | None] = (None, None), seed: int = 0, top: int = TOP,
          fit_sample: int | None = SAMPLE, ablations=FACTOR_KEYS, title: str | None = None, intro: str = "",
          missing: list[tuple[str, str]] = (), notes: list[str] = (), progress: bool = False) -> str:
    """The report's HTML for these sweeps (see the module docstring for its sections); `notes`
    are shown in the summary beside the comparability notes. progress: a line on stderr as each
    part begins (a report of several sweeps takes tens of seconds)."""
    step = _Steps(len(sweeps), progress)
    notes = [*check_comparable(sweeps), *notes]
    plain = curves(sweeps, metric)
    usable = {s.name: s.usable(metric) for s in sweeps}
    page = Page(title or "Design-space analysis: " + ", ".join(s.name for s in sweeps))
    _summary(page.section("summary", "Summary"), sweeps, usable, metric, notes, intro, missing)
    step("ablations and verdicts")
    results = [ablate(sweeps, key, metric, seed) for key in ablations]
    _verdicts(page, results)
    step("EDFs")
    _edfs(page, sweeps, plain, metric, normalize, bins, complexity_range)
    step("good ranges and trends")
    columns = {s.name: analysed_columns(usable[s.name]) for s in sweeps}
    ranges = {s.name: {c: good_range(usable[s.name][c], usable[s.name][metric], seed=seed) for c in columns[s.name]}
              for s in sweeps}
    _good_ranges(page, sweeps, usable, columns, ranges, metric)
    _trends(page, sweeps, usable, columns, ranges)
    step("training curves and proxy fidelity")
    _training_curves(page, sweeps, usable, metric)
    _fidelity(page, sweeps, metric, seed)
    step("quantized-linear fits")
    _fits(page, sweeps, usable, metric, top, fit_sample, seed)
    _ablations(page, results, metric)
    _methods(page.section("methods", "Methods"))
    step.done()
    meta = (f"{len(sweeps)} population{'s' if len(sweeps) > 1 else ''}; error metric <b>{html.escape(metric)}</b>; "
            f"bootstrap seed {seed}. Generated by designspace.")
    return page.render(meta)


class _Steps:
    """Says on stderr which part of the report is being built, with the time so far."""

    def __init__(self, sweeps: int, enabled: bool):
        self.enabled, self.start = enabled, time.monotonic()
        self("the summary", f"of {sweeps} sweep{'s' * (sweeps != 1)}")

    def __call__(self, part: str, detail: str = "") -> None:
        if self.enabled:
            print(f"report{' ' + detail if detail else ''}: {part} ({time.monotonic() - self.start:.0f} s)",
                  file=sys.stderr, flush=True)

    def done(self) -> None:
        self("done")


def write(paths, output, **options) -> Path:
    """Load the populations at `paths`, build the report and write it to `output`."""
    check_output(output)
    return save(build(load_all(paths), **options), output)


def check_output(output) -> Path:
    """The output path, or ValueError before any work when it is not an .html file or cannot be
    written (a report takes a while to build)."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{output}: the report is HTML; use a .html file name")
    return check_writable(output)


def save(text: str, output) -> Path:
    """Write the page atomically (a failed run never leaves half a report)."""
    return atomic_write(check_output(output), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


# -------------------------------------------------------------------------------- sections
def _summary(parts, sweeps, usable, metric, notes, intro, missing):
    import pandas as pd

    if intro:
        parts.append(_p(intro))
    rows = []
    for s in sweeps:
        frame, errors = s.frame, usable[s.name][metric]
        row = {"sweep": s.name, "source": s.source, "space": _distinct(frame, "space"),
               "models": len(frame), "used": len(errors),
               "excluded": s.excluded_text(metric).replace(" excluded", "") or "none",
               "best %": errors.min(), "median %": errors.median(), "mean %": errors.mean()}
        flops = frame["flops"].to_numpy(float) if "flops" in frame else np.array([])
        if np.isfinite(flops).any():
            unit, scale = plot.axis("flops", flops)
            low, high = np.nanmin(flops) * scale, np.nanmax(flops) * scale
            row[unit.replace("flops", "flops range")] = f"{low:.4g} to {high:.4g}"
        rows.append(row)
    parts.append(_table(pd.DataFrame(rows).fillna(""), {"best %": ".2f", "median %": ".2f", "mean %": ".2f"}))
    parts.append(_p("Models that diverged or failed have no error and are left out of every analysis below "
                    "(counted under 'excluded'); they are never plotted as 0."))
    small = [f"{s.name}: {len(usable[s.name])} models" for s in sweeps if len(usable[s.name]) < SMALL_POPULATION]
    if small:
        parts.append(_p(f"{'; '.join(small)}; below {SMALL_POPULATION}, EDFs, KS tests and good ranges are rough; "
                        "see the bands and intervals below.", "note"))
    parts.append("<h3>Training setup</h3>")
    parts.append(_setup_table(sweeps))
    parts.append(_p("Every model is trained briefly with this setup, a proxy as in the papers: its errors rank models "
                    "and spaces against each other; they are not the errors of full training."))
    for note in notes:
        parts.append(_p(note, "note"))
    if missing:
        parts.append(_p(f"{len(missing)} sweep(s) of this study have no results yet and are left out; run:", "note"))
        parts.append(_commands(cmd for _, cmd in missing))


def _setup_table(sweeps) -> str:
    """Each sweep's training setup (setup.setup), one row per setting; a value all sweeps share
    spans their columns, so it is read once."""
    from .setup import setup

    setups = [setup(s) for s in sweeps]
    settings = list(dict.fromkeys(k for d in setups for k in d))
    head = "".join(f"<th>{html.escape(s.name)}</th>" for s in sweeps) if len(sweeps) > 1 else "<th>value</th>"
    rows = []
    for key in settings:
        values = [d.get(key, "not recorded") for d in setups]
        cells = (f'<td colspan="{len(values)}">{html.escape(values[0])}</td>' if len(set(values)) == 1
                 else "".join(f"<td>{html.escape(v)}</td>" for v in values))
        rows.append(f"<tr><th>{html.escape(key)}</th>{cells}</tr>")
    return f"<table><thead><tr><th>setting</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _verdicts(page, results):
    """All ablation verdicts at once, near the top (each ablation repeats its own at its end)."""
    if not results:
        return
    parts = page.section("verdicts", "Verdicts against the papers")
    parts.append(_p("Each ablation below ends with a verdict on its paper's claim: agrees or disagrees when a KS test "
                    f"(p < {ALPHA}) or an informative bootstrap good range says so, else inconclusive at this n "
                    "(with the gap that would have been detectable), or not tested when no sweep here bears on it. "
                    "The rules are under Methods."))
    table = verdict_table(results)  # a row per result: linked to its section, the long cells wrapped
    rows = "".join(
        f'<tr><td><a href="#ablation-{r.factor.key}">{html.escape(row.factor)}</a></td>'
        f"<td class=wrap>{html.escape(row.claim)}</td><td class='verdict {_tone(row.verdict)}'>"
        f"{html.escape(row.verdict)}</td><td class=wrap>{html.escape(row.numbers)}</td></tr>"
        for r, row in zip(results, table.itertuples(index=False)))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def _tone(outcome: str) -> str:
    """The verdict's CSS class: green when the data agree with the paper, red when they disagree."""
    return {AGREES: "agrees", DISAGREES: "disagrees"}.get(outcome, "open")


def _verdict_line(verdict) -> str:
    return _p(f"Verdict: {verdict.text}", f"verdict {_tone(verdict.outcome)}")


def _distinct(frame, column: str, reduce=None) -> str:
    """The values of a column, joined ('regnetx'), or reduced (the most epochs); '' when absent."""
    if column not in frame or not frame[column].notna().any():
        return ""
    values = frame[column].dropna()
    if reduce:
        return str(reduce(values))
    return ", ".join(sorted(values.astype(str).unique()))


def _edfs(page, sweeps, plain, metric, normalize, bins, complexity_range):
    parts = page.section("edf", "Error EDFs")
    excluded = "; ".join(f"{s.name}: {s.excluded_text(metric)}" for s in sweeps if s.excluded_text(metric))
    shown = [(c.name, c.errors, None) for c in plain]
    parts.append(_figure(plot.edf_figure(shown, metric),
                         "Error EDF: the fraction of models with an error below x. The legend gives the number of "
                         "models, the best error and the mean error (the area to the left of the curve). "
                         + plot.band_caption(shown) + (f" Excluded: {excluded}." if excluded else "")))
    tables = [("Unnormalized", ks_table(plain))]
    weighted = _normalized(page, parts, sweeps, metric, normalize, bins, complexity_range) if normalize else None
    if weighted:
        tables.append((f"Normalized by {normalize} (weighted EDFs; n are effective sizes)", ks_table(weighted)))
    if len(sweeps) > 1:
        parts = page.section("ks", "KS tests between sweeps")
        parts.append(_p("Two-sample Kolmogorov-Smirnov test per pair: D is the largest vertical gap between the two "
                        "EDFs, p the chance of a gap at least that large if both came from one distribution. "
                        "D_low to D_high: a 95% interval of the distance between the populations' true distributions, "
                        "D +- (eps_a + eps_b) with each sweep's DKW band at 97.5% (distribution-free; wide at small n). "
                        "D_detectable: the smallest gap these sizes can "
                        "detect at p < 0.05, 1.358 sqrt((n_a + n_b) / (n_a n_b)); 'no evidence of a difference' with a "
                        "large D_detectable means the sweeps are too small to tell, not that they are alike."))
        for caption, table in tables:
            parts.append(f"<h3>{html.escape(caption)}</h3>")
            parts.append(_table(table, {"n_a": ".4g", "n_b": ".4g", "p": ".3g",
                                        **dict.fromkeys(["D", "D_low", "D_high", "D_detectable"], ".3f")}))
    search = [(c.name, random_search(c.errors)) for c in plain]
    parts = page.section("random-search", "Random-search efficiency")
    parts.append(_figure(plot.random_search_figure(search, metric),
                         "Expected best error of an experiment that trains m models drawn at random from the "
                         "population (with replacement), computed exactly from the EDF; the band holds 95% of such "
                         "experiments. A steeper curve means good models are easier to find."))
    import pandas as pd

    rows = [{"sweep": name, **{f"m={m}": float(t.loc[t["m"] == m, "mean"].iloc[0]) if m in set(t["m"]) else np.nan
                               for m in SEARCH_SIZES}} for name, t in search]
    parts.append(_table(pd.DataFrame(rows), {f"m={m}": ".2f" for m in SEARCH_SIZES}))


def _normalized(page, edf_parts, sweeps, metric, normalize, bins, complexity_range):
    """The section of EDFs normalized by `normalize`, and their curves; None, with a note in the
    EDF section saying why, when the sweeps cannot be normalized (e.g. their ranges do not overlap)."""
    lo, hi = complexity_range
    try:
        weighted, info = normalized_curves(sweeps, metric, normalize, bins, lo, hi)
    except ValueError as error:
        if normalize not in COMPLEXITY:
            raise
        edf_parts.append(_p(f"No EDFs normalized by {normalize}: {error}.", "note"))
        return None
    label, scale = plot.axis(normalize, np.concatenate([c.complexity for c in weighted]))
    shown = [(c.name, c.errors, c.weights) for c in weighted]
    page.section("normalized", f"EDFs normalized by {normalize}").append(_figure(
        plot.normalized_figure(shown, metric, normalize, [c.complexity for c in weighted], info.lo, info.hi,
                               info.bins),
        f"Each model is weighted by 1/(k m_j), m_j being the models of its sweep in its {normalize} bin j of k = "
        f"{info.bins} linear bins over {info.lo * scale:.4g} to {info.hi * scale:.4g} ({label}), so that every "
        f"sweep's {normalize} distribution is uniform over that range (left). Differences that remain in the "
        "normalized error EDFs (right) are not due to complexity. Models in range: "
        + ", ".join(f"{n}: {k}" for n, k in info.inside.items()) + ". " + plot.band_caption(shown)))
    return weighted


def _good_ranges(page, sweeps, usable, columns, ranges, metric):
    import pandas as pd

    parts = page.section("good-ranges", "Where the good models lie (bootstrap)")
    parts.append(_p(f"For every sampled parameter and complexity metric: resample {FRACTION:.0%} of the models with "
                    f"replacement, keep the best, repeat {RESAMPLES:,} times; the 2.5th and 97.5th percentiles of the "
                    "kept models' values bound the 95% good range and the median is the likely best value."))
    for s in sweeps:
        frame = usable[s.name]
        parts.append(f"<h3>{html.escape(s.name)}</h3>")
        if not columns[s.name]:
            parts.append(_p(f"{s.name}: no parameter or complexity metric to analyse.", "note"))
            continue
        rows = []
        for c in columns[s.name]:
            name, scale = plot.axis(c, frame[c].to_numpy(float))
            low, best, high = (v * scale for v in ranges[s.name][c])
            values = frame[c].to_numpy(float) * scale
            rows.append({"parameter": name, "good low": low, "best": best, "good high": high,
                         "min": np.nanmin(values), "max": np.nanmax(values),
                         "informative": "yes" if informative(frame[c], ranges[s.name][c]) else "no"})
        parts.append(_table(pd.DataFrame(rows), dict.fromkeys(["good low", "best", "good high", "min", "max"], ".4g")))
        vague = sum(row["informative"] == "no" for row in rows)
        if vague:
            parts.append(_p(_uninformative(s.name, len(frame), vague, len(rows)), "note"))
        parts.append(_figure(plot.values_figure(frame, columns[s.name], metric, ranges[s.name],
                                                f"{s.name}: error against each parameter"),
                             f"{s.name}: each dot is a model; blue: 95% bootstrap range of the best models' values, "
                             "black line: its median."))


def _uninformative(name: str, n: int, vague: int, total: int) -> str:
    """One note per sweep on its good ranges that say nothing (bootstrap.informative)."""
    if n < SMALL_POPULATION:
        return (f"{name}: at n = {n} (fewer than {SMALL_POPULATION} models) the bootstrap cannot locate good values; "
                "every good range above is uninformative, however narrow it looks.")
    return (f"{name}: {vague} of {total} good ranges (informative: no) span the whole sampled range or rest on fewer "
            f"than {SMALL_POPULATION} models with that parameter: at n = {n} the bootstrap cannot locate good values "
            "of those parameters.")


def _trends(page, sweeps, usable, columns, ranges):
    common = [c for c in columns[sweeps[0].name] if all(c in columns[s.name] for s in sweeps)]
    if len(sweeps) < 2 or not common:
        return
    stats = {}
    for s in sweeps:
        for c in common:
            values = usable[s.name][c].to_numpy(float)
            low, best, high = ranges[s.name][c]
            stats[(s.name, c)] = (np.nanmin(values), low, best, high, np.nanmax(values))
    parts = page.section("trends", "Trends across sweeps")
    parts.append(_figure(plot.trends_figure([s.name for s in sweeps], common, stats),
                         "Per parameter and sweep: the sampled range (grey), the 95% good range of the best models "
                         "(blue) and its median (black)."))


def _training_curves(page, sweeps, usable, metric):
    parts = None
    for s in sweeps:
        frame = usable[s.name]
        if "test_error" not in frame or not frame["test_error"].map(lambda v: len(plot.per_epoch(v)) > 0).any():
            continue
        parts = parts if parts is not None else page.section("curves", "Training curves of the best and worst models")
        ordered = frame.sort_values(metric, kind="stable")
        parts.append(_figure(plot.curves_figure(ordered.head(CURVES), ordered.tail(CURVES).iloc[::-1], metric,
                                                f"{s.name}: the {CURVES} best (blue, solid) and worst (red, dashed)"),
                             f"{s.name}: test error and training loss per epoch."))


def _fidelity(page, sweeps, metric, seed):
    """How far the short training can be trusted: shown when a sweep has per-epoch errors of at
    least 2 epochs, or two sweeps hold the same models at different budgets."""
    from .fidelity import FORMATS, RESAMPLES, proxy_fidelity, readable

    result = proxy_fidelity(sweeps, metric, seed)
    if result.empty:
        return
    parts = page.section("fidelity", "Proxy fidelity: does short training rank models as longer training does?")
    parts.append(_p("Short training stands in for long training, as in NDS and the RegNet paper. Rank correlations "
                    "(Spearman's rho, Kendall's tau-b; 1: the same order, 0: unrelated) say how far it can be "
                    f"trusted; intervals are 95% bootstraps over the models ({RESAMPLES:,} resamples, seed {seed})."))
    for caption, table in (
            ("Each epoch's test error against the last epoch's, per sweep", result.epochs),
            (f"The same models at two budgets (epochs x training images): {metric}", result.budgets),
            ("Two spaces at the same two budgets: median error difference (a - b), KS test, and whether the order "
             "and the significance stay", result.orders)):
        if len(table):
            parts.append(f"<h3>{html.escape(caption)}</h3>")
            parts.append(_table(readable(table), FORMATS))
    for note in result.notes:
        parts.append(_p(note, "note"))
    parts.append(_figure(plot.fidelity_figure(result, metric),
                         "Left: rank correlation of each epoch's test error with the last epoch's (band: 95% bootstrap "
                         "interval). Right: each model's error at the short budget against the long budget."))


def _fits(page, sweeps, usable, metric, top, fit_sample, seed):
    import pandas as pd

    fitted = []
    parts = page.section("fits", "Best models and their quantized-linear fits")
    parts.append(_p("RegNet's rule: block j has width w0 * wm^round(log(u_j / w0) / log(wm)), u_j = w0 + wa * j, "
                    "rounded to a multiple of 8. Each model's per-block widths are fitted with designspace.regnet.fit; "
                    "e_fit is the mean |log(fitted / actual width)| (0: the model is exactly a RegNet)."))
    for s in sweeps:
        frame = usable[s.name]
        if "spec" not in frame or not frame["spec"].notna().any():
            parts.append(_p(f"{s.name}: no per-block widths (these models have no spec, e.g. NAS cells).", "note"))
            continue
        fits = fit_population(frame, metric, top, fit_sample, seed)
        fitted.append((s.name, fits))
        best = fits[fits["group"] == "best"].head(BEST_ROWS)
        models = frame.drop_duplicates("id").set_index("id")
        units = {c: plot.axis(c, frame[c].to_numpy(float)) for c in COMPLEXITY
                 if c in frame and np.isfinite(frame[c].to_numpy(float)).any()}
        rows = []
        for rank, row in enumerate(best.itertuples(index=False), 1):
            rows.append({"rank": rank, "id": row.id, "error %": row.error,
                         **{name: models.at[row.id, c] * scale for c, (name, scale) in units.items()},
                         "blocks": row.depth,
                         "widths x blocks": " ".join(f"{w}x{n}" for w, n in stage_runs(row.observed)),
                         "w0": row.w0, "wa": row.wa, "wm": row.wm, "e_fit": row.e_fit})
        parts.append(f"<h3>{html.escape(s.name)}</h3>")
        formats = {"error %": ".2f", "wa": ".2f", "wm": ".3f", "e_fit": ".4f"}
        formats.update((name, ".4g") for name, _ in units.values())
        parts.append(_table(pd.DataFrame(rows), formats))
        figure = plot.widths_figure(best.head(WIDTH_PANELS), f"{s.name}: per-block widths of the best models")
        parts.append(_figure(figure, f"{s.name}: dots are the model's block widths, the dashed line its fitted "
                                     "quantized-linear widths and the dotted line the continuous widths w0 + wa * j "
                                     "(log scale)."))
    if fitted:
        parts = page.section("e-fit", "e_fit against error")
        n_random = {name: int((f["group"] == "random").sum()) for name, f in fitted}
        parts.append(_figure(plot.efit_figure(fitted, metric),
                             f"Error against e_fit: the {top} best models of each sweep (red) and a random sample of "
                             "the others (grey; " + ", ".join(f"{n}: {k}" for n, k in n_random.items())
                             + f" models, seed {seed}). The paper finds that good models have a small e_fit."))


def _ablations(page, results, metric):
    if not results:
        return
    parts = page.section("ablations", "Ablations")
    parts.append(_p("Each factor is compared within a sweep where it varies from model to model, and between two "
                    "sweeps whose values of it do not overlap (the pairs that differ least otherwise; other "
                    "differences are named, as they confound the comparison). A numeric factor is split into thirds, "
                    f"or halves, that each hold at least {MIN_TEST_MODELS} models for a KS test (per value when it has "
                    "few values that each do); groups too small for a test are named once per factor. Each factor "
                    "starts with what its paper reports and ends with the verdict on it."))
    for result in results:
        key = result.factor.key
        parts.append(f'<h3 id="ablation-{key}">{html.escape(result.factor.title)}</h3>')
        parts.append(_p("Paper: " + result.factor.finding, "finding"))
        if not result.comparisons and not result.scatter:
            parts.append(_p(f"These sweeps cannot answer this: {result.missing}. Run:", "note"))
            parts.append(_commands(result.commands))
            parts.append(_verdict_line(result.verdict))
            continue
        parts.append(_figure(plot.ablation_figure(result, metric),
                             f"{result.factor.title}: "
                             + ("error EDFs per group" if result.comparisons else "")
                             + (" and " if result.comparisons and result.scatter else "")
                             + ("error against the factor with its 95% bootstrap good range" if result.scatter
                                else "") + "."))
        for comparison in result.comparisons:
            if comparison.caveat:
                parts.append(_p(f"{comparison.label}: {comparison.caveat}.", "note"))
            if comparison.paired is not None:
                parts.append(_p(f"{comparison.label}, model by model: "
                                + comparison.paired.describe(*(g.label for g in comparison.groups)) + "."))
        if len(result.groups):
            parts.append(_table(result.groups, {"min": ".2f", "median": ".2f", "mean": ".2f"}))
        if len(result.tests):
            parts.append(_table(result.tests, {"D": ".3f", "p": ".3g"}))
        if result.skipped:  # one note per factor, a line per sweep or comparison
            parts.append("<p class='note'>" + "<br>".join(map(html.escape, result.skipped)) + "</p>")
        if result.scatter:
            import pandas as pd

            table = pd.DataFrame([(name, *good) for name, _, _, good in result.scatter],
                                 columns=["sweep", "good low", "best", "good high"])
            parts.append(_table(table, dict.fromkeys(["good low", "best", "good high"], ".4g")))
        parts.append(_verdict_line(result.verdict))


def _methods(parts):
    parts.append("<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in (
        "Error EDF F(e): fraction of models with error below e (Radosavovic et al. 2019, 2020).",
        "Normalized EDF: weights 1/(k m_j) over k linear complexity bins of a common range, models outside it get "
        "weight 0 (NDS).",
        "KS test: scipy.stats.ks_2samp; weighted EDFs use effective sizes (sum w)^2 / sum w^2.",
        f"Good ranges: empirical bootstrap, {RESAMPLES:,} resamples of {FRACTION:.0%} of the models with replacement, "
        "percentiles 2.5 / 50 / 97.5 of the best model's value (DDS section 3.1, as pycls).",
        "Random search: the distribution of the best of m models drawn by weight, computed exactly from the EDF.",
        "e_fit: designspace.regnet.fit on each model's per-block widths (DDS section 3.3).",
        f"Ablation groups: a numeric factor with at most {MAX_LEVELS} values that each hold {MIN_TEST_MODELS} models "
        "or more gets one group per value; else it is cut into thirds at its quantiles, or into halves, whichever "
        f"gives every group at least {MIN_TEST_MODELS} models (equal values stay in one group); else it is not split "
        "and only its error-against-value panel and good range are shown.",
        "Verdicts, for a claim that some models have lower error (the groups expected to be better against those "
        "expected to be worse, pooled; for a numeric factor the group at the expected end against the rest): "
        f"agrees when the expected group has the lower median error and the KS test gives p < {ALPHA}; "
        f"disagrees when its median is higher with p < {ALPHA}; else inconclusive at this n, with the "
        "smallest detectable gap D = 1.358 sqrt((n_a + n_b) / (n_a n_b)) at these group sizes.",
        "Verdicts, for a claim about where the best models lie (depth about 20 blocks, wm about 2.5) or that no "
        "single value is best (g): read from each sweep's bootstrap good range, only with at least "
        f"{SMALL_POPULATION} models. Agrees when the range holds the expected value and is narrower than the sampled "
        "range (or, for 'no single best', holds more than one sampled value); disagrees when such a narrower range "
        "excludes the value (or holds one value only); else inconclusive.",
        "A factor answered by several comparisons agrees when at least one agrees and none disagrees (disagrees "
        "likewise); comparisons that contradict each other make it inconclusive. Not tested: no sweep here varies "
        "the factor, or none holds the groups its claim compares.",
    )) + "</ul>")
