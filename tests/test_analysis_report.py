"""The HTML report, the comparison layer, the figures, the CLI commands and the shipped studies."""

import argparse
import base64
import html
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from test_analysis_load import FASHION, TWEAKS, write_sweep
from test_study import prepare_cache

from designspace.analysis import build_report, curves, ks, ks_table, load, load_all, normalized_curves, plot
from designspace.analysis.commands import register
from designspace.analysis.compare import Curve
from designspace.analysis.edf import dkw_epsilon, ks_detectable, ks_interval
from designspace.analysis.study import load_study

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = (
    "summary",
    "verdicts",
    "edf",
    "normalized",
    "ks",
    "random-search",
    "good-ranges",
    "trends",
    "curves",
    "fits",
    "e-fit",
    "ablations",
    "methods",
)


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    write_sweep(root / "rx", n=40, diverged=2, failed=1)
    write_sweep(root / "e", space="anynetx_e", n=40, seed=1)
    return root


def test_report_holds_every_section_and_is_self_contained(two_sweeps):
    sweeps = load_all([two_sweeps / "rx", two_sweeps / "e"])
    page = build_report(sweeps, normalize="flops", top=5, fit_sample=10)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    for key in SECTIONS:
        assert f'<section id="{key}">' in page
    assert not re.search(r'(src|href)="(https?:|//)', page) and "<script" not in page and "<link" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 12 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "2 diverged, 1 failed" in page
    errors = [s.usable()["best_error"].to_numpy() for s in sweeps]
    d, p = ks(*errors)
    low, high = ks_interval(*errors)
    detectable = ks_detectable(len(errors[0]), len(errors[1]))
    assert (
        f"<td class=n>{d:.3f}</td><td class=n>{low:.3f}</td><td class=n>{high:.3f}</td><td class=n>{p:.3g}</td>"
        f"<td class=n>{detectable:.3f}</td>"
    ) in page
    rx, e = (s.name for s in sweeps)
    assert (
        f"Shaded: 95% DKW band, ±{dkw_epsilon(37):.3f} at n = 37 ({rx}), ±{dkw_epsilon(40):.3f} at n = 40 ({e})" in page
    )
    # RegNetX fixes b = 1 and has no SE: those ablations say which sweeps to run instead
    assert (
        f"designspace sweep --space regnety --n 40 --dataset fashion-mnist --epochs 4 -o {two_sweeps / 'regnety'}"
        in page
    )


def test_a_report_of_two_small_sweeps_says_so_once_and_states_the_setup(tmp_path):
    import json

    from designspace.analysis.ablation import FACTOR_KEYS

    for space, seed in (("anynetx_a", 0), ("regnetx", 1)):
        write_sweep(tmp_path / space, space=space, n=6, seed=seed)
        (tmp_path / space / "sweep.json").write_text(
            json.dumps(
                {
                    "n": 6,
                    "models": "x",
                    "dataset": {"name": "fashion-mnist", "train_subset": 6000, "test_subset": 2000, "seed": 0},
                    "recipe": {"epochs": 4, "lr": 0.1, "batch_size": 128, "warmup_epochs": 1.0, "seed": 0},
                    "source": {"space": space, "seed": seed, "flops": [20e6, 40e6]},
                    "layout": {"jobs": 2},
                }
            )
        )
    page = build_report(load_all([tmp_path / "anynetx_a", tmp_path / "regnetx"]), top=3, fit_sample=3)
    summary = page[page.index('<section id="summary">') : page.index('<section id="verdicts">')]
    assert (
        summary.count("class='note'") == 1
        and summary.count(
            "AnyNetX_A: 6 models; RegNetX: 6 models; below 30, EDFs, KS tests and good ranges are rough; see the bands "
            "and intervals below."
        )
        == 1
    )
    # the setup: shared values once (spanning both columns), differing ones per sweep
    assert "<tr><th>setting</th><th>AnyNetX_A</th><th>RegNetX</th></tr>" in summary
    for setting, value in (
        ("dataset", "fashion-mnist"),
        ("train / test images", "6,000 / 2,000 (subset seed 0)"),
        ("epochs", "4"),
        ("warm-up", "1 epoch, linear from 0.1 x lr"),
        ("sampling window", "flops 20M to 40M"),
        ("training seed", "0"),
        ("device", "cpu, 2 jobs x 1 thread"),
        ("training time", "0.1 min (median 1 s a model)"),
    ):
        assert f'<tr><th>{setting}</th><td colspan="2">{html.escape(value)}</td></tr>' in summary
    assert "<tr><th>sampling seed</th><td>0</td><td>1</td></tr>" in summary
    assert "<td>AnyNetX_A</td><td>/" in summary and "<td>anynetx_a</td>" in summary  # the name, then the space
    # every ablation ends with its verdict, and each says at most once what is too small to test
    ablations = page[page.index('<section id="ablations">') : page.index('<section id="methods">')]
    sections = ablations.split('<h3 id="ablation-')[1:]
    assert len(sections) == len(FACTOR_KEYS)
    for section in sections:
        last = section.removesuffix("</section>").rsplit("<p ", 1)[1]
        assert section.count("class='verdict") == 1 and last.startswith("class='verdict") and last.endswith("</p>")
        assert sum("a KS test needs" in note for note in re.findall(r"<p class='note'>(.*?)</p>", section)) <= 1
    assert "): a KS test needs" not in page  # no line per pair of groups
    assert (
        "AnyNetX_A: depth varies over 6 models, too few to split: a KS test needs at least 5 models per group, so "
        "4 more models would allow halves and 9 more thirds<br>RegNetX: depth varies over 6 models"
    ) in ablations
    verdicts = page[page.index('<section id="verdicts">') : page.index('<section id="edf">')]
    assert verdicts.count('<tr><td><a href="#ablation-') == len(FACTOR_KEYS)
    assert (
        '<td><a href="#ablation-depth">Depth</a></td><td class=wrap>the best models&#x27; good range holds about '
        "20 blocks</td><td class='verdict open'>inconclusive at this n</td>"
    ) in verdicts
    assert "white-space:pre-wrap" in page  # long suggested commands wrap instead of scrolling sideways


def test_report_shows_the_seed_architecture_ablations(tmp_path):
    write_sweep(tmp_path / "tweaks", space="resnet", n=20, options=lambda i: TWEAKS[i % 4])
    page = build_report(load_all([tmp_path / "tweaks"]), ablations=("tweak", "stochastic_depth"), top=3, fit_sample=3)
    assert '<h3 id="ablation-tweak">ResNet tweaks A/B/C/D</h3>' in page and "Bag of Tricks" in page
    assert all(f"<td>ResNet-{t}</td><td class=n>5</td>" in page for t in "ABCD")
    assert '<h3 id="ablation-stochastic_depth">' in page and "Huang et al. 2016" in page
    assert f"--drop-path 0.1 -o {tmp_path / 'resnet_drop_path'}" in page


def test_comparisons_and_their_bad_input(tmp_path):
    write_sweep(tmp_path / "a", n=30, flops=(20e6, 30e6))
    write_sweep(tmp_path / "b", n=30, seed=3, flops=(25e6, 40e6))
    sweeps = load_all([tmp_path / "a", tmp_path / "b"])
    weighted, info = normalized_curves(sweeps, by="flops", bins=3)
    lo = max(s.usable()["flops"].min() for s in sweeps)
    hi = min(s.usable()["flops"].max() for s in sweeps)
    assert (info.lo, info.hi, info.bins) == (lo, hi, 3)
    for curve in weighted:
        assert np.isclose(curve.weights.sum(), 1.0) and np.all(curve.weights[(curve.complexity <= lo)] == 0)
    table = ks_table(weighted)
    assert table[["a", "b"]].values.tolist() == [["RegNetX (a)", "RegNetX (b)"]]  # one space: told apart by folder
    assert table["D"].iloc[0] == ks(weighted[0].errors, weighted[1].errors, weighted[0].weights, weighted[1].weights)[0]
    with pytest.raises(ValueError, match=r"RegNetX \(a\): normalizing by flops: bin \d+ of 200 .* holds no model"):
        normalized_curves(sweeps, by="flops", bins=200)
    with pytest.raises(ValueError, match="cannot normalize by 'memory'; use one of flops, params, acts"):
        normalized_curves(sweeps, by="memory")
    write_sweep(tmp_path / "small", n=20, flops=(50e6, 60e6))
    with pytest.raises(ValueError, match="the flops ranges of the sweeps do not overlap"):
        normalized_curves(load_all([tmp_path / "a", tmp_path / "small"]), by="flops")


def test_ks_table_says_how_sure_it_is():
    same = [Curve("a", np.arange(16.0)), Curve("b", np.arange(16.0) + 0.5)]
    table = ks_table(same)
    assert list(table.columns) == ["a", "b", "n_a", "n_b", "D", "D_low", "D_high", "p", "D_detectable", "verdict"]
    row = table.iloc[0]
    assert (
        row["D"] == 1 / 16
        and row["D_low"] == 0 < row["D"] < row["D_high"]
        and row["D_detectable"] == pytest.approx(0.480, abs=1e-3)
    )
    assert row["verdict"] == "no evidence of a difference; at n = 16 per side only D > 0.48 is detectable at p < 0.05"
    apart = ks_table([Curve("a", np.arange(30.0)), Curve("b", np.arange(20.0) + 25), Curve("c", np.arange(3.0))])
    assert apart["verdict"].tolist() == [
        "differ (p < 0.05)",
        "too few models: the test needs at least 5 per sweep",
        "too few models: the test needs at least 5 per sweep",
    ]
    assert apart.loc[0, "D_low"] <= apart.loc[0, "D"] <= apart.loc[0, "D_high"]
    assert apart.loc[1, ["D", "D_low", "D_high", "p", "D_detectable"]].isna().all()
    weighted = ks_table(
        [Curve("a", np.arange(30.0), np.r_[np.ones(20), np.zeros(10)]), Curve("b", np.arange(25.0) + 1)]
    )
    assert weighted.loc[0, "verdict"] == (
        "no evidence of a difference; at effective n = 20 and 25 only D > 0.41 is detectable at p < 0.05"
    )


def test_small_sweeps_say_their_good_ranges_are_uninformative(tmp_path):
    write_sweep(tmp_path / "a", n=16)
    write_sweep(tmp_path / "b", n=16, seed=1)
    page = build_report(load_all([tmp_path / "a", tmp_path / "b"]), ablations=(), top=3, fit_sample=3)
    for name in ("RegNetX (a)", "RegNetX (b)"):  # once per sweep, not per row
        assert (
            page.count(
                f"{name}: at n = 16 (fewer than 30 models) the bootstrap cannot locate good values; every "
                "good range above is uninformative"
            )
            == 1
        )
    good = page[page.index('<section id="good-ranges">') : page.index('<section id="trends">')]
    assert "<th>informative</th>" in good and "<td>yes</td>" not in good and "<td>no</td>" in good
    assert "at n = 16 per side only D &gt; 0.48 is detectable at p &lt; 0.05" in page or "differ (p &lt; 0.05)" in page


def test_a_comparison_that_cannot_be_normalized_drops_only_that_section(tmp_path, capsys):
    write_sweep(tmp_path / "a", n=20, flops=(20e6, 31e6))
    write_sweep(tmp_path / "b", n=20, seed=1, flops=(29e6, 40e6))  # the ranges overlap by about 2 MF
    sweeps = load_all([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ValueError) as refused:
        normalized_curves(sweeps, by="flops")
    reason = str(refused.value)
    assert "models have flops strictly inside the common range" in reason and "\n" not in reason
    page = build_report(sweeps, normalize="flops", ablations=(), top=3, fit_sample=3)
    assert '<section id="normalized">' not in page and '<section id="ks">' in page and "Normalized by flops" not in page
    assert f"<p class='note'>No EDFs normalized by flops: {html.escape(reason)}.</p>" in page
    with pytest.raises(ValueError) as e:  # the edf command has nothing else to show: it refuses, for the same reason
        cli("edf", tmp_path / "a", tmp_path / "b", "-o", tmp_path / "e.png", "--normalize", "flops")
    assert str(e.value) == reason


def test_sweeps_on_different_datasets_or_without_usable_models_are_refused(tmp_path):
    write_sweep(tmp_path / "a", n=10)
    other = write_sweep(tmp_path / "b", n=10)
    import pandas as pd

    table = pd.read_parquet(other / "results.parquet").assign(dataset="cifar10")
    table.to_parquet(other / "results.parquet")
    with pytest.raises(ValueError, match=r"datasets \(RegNetX \(a\): fashion-mnist; RegNetX \(b\): cifar10\)"):
        build_report(load_all([tmp_path / "a", tmp_path / "b"]))
    write_sweep(tmp_path / "dead", n=6, failed=6)
    with pytest.raises(ValueError, match=r"dead: no model has a finite best_error \(6 failed models excluded\)"):
        curves([load(tmp_path / "dead")])


# ------------------------------------------------------------------------------- figures
def test_axis_labels_carry_units():
    assert plot.axis("flops", [3e7, 4e7]) == ("flops (MF)", 1e-6)
    assert plot.axis("flops", [4e8, 3.2e9]) == ("flops (GF)", 1e-9)
    assert plot.axis("params", [2e4, 9e4]) == ("params (k)", 1e-3)
    assert plot.axis("acts", [2e5, 9e6]) == ("activations (M)", 1e-6)
    assert plot.axis("sample.width[3]") == ("width[3] (channels)", 1.0)
    assert plot.axis("total_depth") == ("depth (blocks)", 1.0)
    assert plot.error_label("best_error") == "top-1 test error, best epoch (%)"
    assert plot.summary_label("rx", [9.0, 7.5, 10.5]) == "rx: n=3 | min 7.50 | mean 9.00"
    assert plot.summary_label("rx", [9.0, 7.5, 10.5], [0.0, 1.0, 3.0]) == "rx: n=2 | min 7.50 | mean 9.75"


def test_error_axes_stop_at_the_99th_percentile_only_for_far_outliers():
    lo, hi, clipped = plot.error_limits(np.r_[np.linspace(8, 12, 200), 90.0])
    assert clipped and hi < 13
    lo, hi, clipped = plot.error_limits(np.linspace(8, 12, 200))
    assert not clipped and lo < 8 and 12 < hi < 12.5


def test_figures_save_by_extension(tmp_path):
    fig = plot.edf_figure([("a", np.array([1.0, 2.0, 3.0]), None)])
    assert plot.save(fig, tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in plot.save(fig, tmp_path / "e.svg").read_bytes()[:400]
    with pytest.raises(ValueError, match="use .png or .svg"):
        plot.save(fig, tmp_path / "e.jpg")


# ----------------------------------------------------------------------------------- CLI
def cli(*argv):
    parser = argparse.ArgumentParser(prog="designspace")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    args.run(args)


def test_edf_command(two_sweeps, tmp_path, capsys):
    cli("edf", two_sweeps / "rx", two_sweeps / "e", "-o", tmp_path / "edf.svg")
    out, err = capsys.readouterr()
    names = [s.name for s in load_all([two_sweeps / "rx", two_sweeps / "e"])]
    rx, e = (load(two_sweeps / n).usable()["best_error"] for n in ("rx", "e"))
    assert out.splitlines()[0] == plot.summary_label(names[0], rx) + f" | ±{dkw_epsilon(37):.3f}"
    d, p = ks(rx, e)
    low, high = ks_interval(rx, e)
    detectable = ks_detectable(37, 40)
    assert out.splitlines()[2] == (
        f"KS {names[0]} vs {names[1]}: D={d:.3f} (95% interval {low:.3f} to {high:.3f}) p={p:.3g} "
        f"D_detectable={detectable:.3f}, "
        + (
            "differ (p < 0.05)"
            if p < 0.05
            else f"no evidence of a difference; at n = 37 and 40 only D > {detectable:.2f} is detectable at p < 0.05"
        )
    )
    assert f"{names[0]}: 2 diverged, 1 failed models excluded" in err and "±: half-width of the 95% DKW band" in err
    assert (tmp_path / "edf.svg").read_text().lstrip().startswith("<?xml")
    cli(
        "edf",
        two_sweeps / "rx",
        two_sweeps / "e",
        "-o",
        tmp_path / "n.png",
        "--normalize",
        "flops",
        "--bins",
        "2",
        "--range",
        "25M:",
    )
    assert (tmp_path / "n.png").read_bytes()[:4] == b"\x89PNG"
    out, _ = capsys.readouterr()
    weighted, _ = normalized_curves(load_all([two_sweeps / "rx", two_sweeps / "e"]), by="flops", bins=2, lo=25e6)
    assert out.splitlines()[0] == plot.band_label(names[0], weighted[0].errors, weighted[0].weights)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "{rx}", "-o", "{tmp}/r.pdf"], "the report is HTML; use a .html file name"),
        (["report", "{rx}", "-o", "{tmp}/r.html", "--ablations", "depth,colour"], "--ablations: unknown colour"),
        (["edf", "{tmp}/nowhere", "-o", "{tmp}/e.png"], "no such file or directory"),
        (["edf", "{tmp}/nowhere", "-o", "{tmp}/e.pdf"], "use .png or .svg"),  # checked before loading or plotting
        (["edf", "{rx}", "-o", "{tmp}/e.png", "--normalize", "flops", "--bins", "500"], "holds no model"),
        (["study", "{tmp}/none.toml"], "no such study file"),
    ],
)
def test_command_errors_are_one_line(two_sweeps, tmp_path, argv, message):
    argv = [a.format(rx=two_sweeps / "rx", tmp=tmp_path) for a in argv]
    with pytest.raises(ValueError) as e:
        cli(*argv)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_study_command_reports_what_exists_and_lists_what_to_run(two_sweeps, tmp_path, capsys, monkeypatch):
    study = tmp_path / "s.toml"
    study.write_text(f"""
title = "RegNetX against AnyNetX_E"
description = "A test study."
ablations = ["depth"]

[[sweeps]]
name = "RegNetX"
path = "{two_sweeps / "rx"}"
run = "designspace sweep --space regnetx --n 40 -o {two_sweeps / "rx"}"

[[sweeps]]
path = "{tmp_path / "later"}"
run = "designspace sweep --space regnety --n 40 -o {tmp_path / "later"}"
""")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the estimate reads this CPU layout
    prepare_cache(tmp_path / "xdg")
    cli("study", study, "--commands")
    out, _ = capsys.readouterr()
    assert (
        out.startswith(f"designspace sweep --space regnety --n 40 -o {tmp_path / 'later'}  # ")
        and "(40 models, " in out
    )
    cli("study", study, "-o", tmp_path / "s.html")
    err = capsys.readouterr().err  # a report takes a while: each part is announced as it begins
    assert err.startswith("report of 1 sweep: the summary (0 s)\nreport: ablations and verdicts (")
    assert "report: EDFs (" in err and "report: done (" in err
    page = (tmp_path / "s.html").read_text()
    assert "<h1>RegNetX against AnyNetX_E</h1>" in page and "A test study." in page
    assert f"designspace sweep --space regnety --n 40 -o {tmp_path / 'later'}" in page
    assert 'id="ablation-depth"' in page and 'id="ablation-se"' not in page
    study.write_text(study.read_text().replace(str(two_sweeps / "rx"), str(tmp_path / "not_yet")))
    with pytest.raises(ValueError, match="none of its 2 sweeps has results yet"):
        cli("study", study)
    study.write_text('title = "x"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="unknown key\\(s\\) colour"):
        load_study(study)
    for text, message in (
        ('title = "x"\n[[sweeps]]\npath = 5\nrun = "r"\n', "needs a path \\(a string\\)"),
        ('title = "x"\nablations = "depth"\n[[sweeps]]\npath = "a"\nrun = "r"\n', "ablations must be a list"),
        ('title = "x"\noutput = 5\n[[sweeps]]\npath = "a"\nrun = "r"\n', "output must be a file name"),
    ):
        study.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_study(study)


def test_shipped_studies_name_valid_feasible_sweeps():
    """Every run command of studies/*.toml is a valid `designspace sweep` command line writing to
    the sweep's path, its space fills the window in the Fashion-MNIST context the sweep samples
    for, and a categorical factor of the study that varies within the sweep has enough models in
    each level for a KS test (a tweak, pre-activation, SE: levels that a space draws per model)."""
    import json
    from types import SimpleNamespace

    import pandas as pd

    from designspace.analysis.ablation import FACTORS
    from designspace.analysis.columns import derive
    from designspace.analysis.edf import MIN_TEST_MODELS
    from designspace.cli import build_parser
    from designspace.options import space_for_dataset

    studies = sorted((ROOT / "studies").glob("*.toml"))
    assert {
        "anynet_refinements",
        "regnet_vs_anynet",
        "swish_vs_relu",
        "depth",
        "bottleneck",
        "se",
        "inverted_bottleneck",
        "resnet_tweaks",
        "preactivation",
        "stochastic_depth",
        "cardinality",
        "se_dimension",
    } <= {s.stem for s in studies}
    commands, ablations = {}, {}
    for path in studies:
        study = load_study(path)
        assert study.title and study.description and study.sweeps  # one sweep answers a factor varying within it
        for sweep in study.sweeps:
            argv = shlex.split(sweep.run)
            assert argv[:2] == ["designspace", "sweep"]
            args = build_parser().parse_args(argv[1:])
            assert Path(args.output) == sweep.path and args.dataset == "fashion-mnist"
            assert commands.setdefault(str(sweep.path), sweep.run) == sweep.run  # one command per directory
            ablations.setdefault(sweep.run, set()).update(study.ablations)
    images = SimpleNamespace(**{k: FASHION[k] for k in ("resolution", "in_channels", "num_classes")})
    for run in commands.values():
        args = build_parser().parse_args(shlex.split(run)[1:])
        models = space_for_dataset(args, images).sample(args.n, seed=args.seed, flops=args.flops)
        assert len(models) == args.n
        frame = derive(pd.DataFrame({"spec": [json.dumps(m["spec"]) for m in models]}))
        for f in FACTORS:  # the block family is left out: its rare levels (mixed stages) follow from per-stage draws
            if f.key in ablations[run] and not f.numeric and f.key != "block" and frame[f.column].nunique() > 1:
                levels = frame[f.column].value_counts()
                assert levels.min() >= MIN_TEST_MODELS, f"{run}: {f.key} levels {levels.to_dict()}"
