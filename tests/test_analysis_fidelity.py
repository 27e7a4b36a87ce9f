"""Proxy fidelity: per-epoch rank correlations within a sweep, the same models at two budgets,
and whether two spaces compare the same way at both budgets (designspace fidelity)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_analysis_load import write_sweep

from designspace.analysis import build_report, load, load_all, plot
from designspace.analysis.fidelity import (
    MAX_KENDALL_MODELS,
    Budget,
    budget,
    budget_pairs,
    per_epoch_correlations,
    proxy_fidelity,
    rank_correlations,
)
from designspace.analysis.report import Page, _fidelity
from designspace.cli import main


def named(root, *folders):
    """The sweeps in these folders of root, named by their folders."""
    return load_all([root / f for f in folders], names=list(folders))


def set_curves(directory, curves, **columns):
    """Give the models of a sweep's results table these per-epoch test errors (one list per row,
    in row order) and other column values; best_error and final_error follow the curves."""
    path = directory / "results.parquet"
    table = pd.read_parquet(path)
    curves = [list(map(float, c)) for c in curves]
    table["test_error"] = curves
    table["best_error"] = [min(c) for c in curves]
    table["final_error"] = [c[-1] for c in curves]
    table["epochs"] = [len(c) for c in curves]
    table["recipe"] = [json.dumps({"epochs": len(c), "lr": 0.1}) for c in curves]
    for column, value in columns.items():
        table[column] = value
    table.to_parquet(path, index=False)
    return directory


# ---------------------------------------------------------------------------- correlations
def test_bootstrap_correlations_match_scipy_on_each_resample():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=40), 1)  # ties, as rounded errors have
    y = np.round(x + rng.normal(size=40), 1)
    result = rank_correlations(x, y, seed=5, resamples=400)
    assert result["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert result["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    index = np.random.default_rng(5).integers(0, 40, size=(400, 40))  # the resamples drawn for seed 5
    rho = [stats.spearmanr(x[i], y[i]).statistic for i in index]
    tau = [stats.kendalltau(x[i], y[i]).statistic for i in index]
    assert result["spearman_lo"] == pytest.approx(np.percentile(rho, 2.5))
    assert result["spearman_hi"] == pytest.approx(np.percentile(rho, 97.5))
    assert result["kendall_lo"] == pytest.approx(np.percentile(tau, 2.5))
    assert result["kendall_hi"] == pytest.approx(np.percentile(tau, 97.5))
    assert result == rank_correlations(x, y, seed=5, resamples=400)  # seeded
    assert result != rank_correlations(x, y, seed=6, resamples=400)


def test_constant_errors_have_no_ranking():
    result = rank_correlations(np.full(10, 90.0), np.arange(10.0), resamples=50)
    assert np.isnan([result["spearman"], result["kendall"], result["spearman_lo"]]).all()


def test_kendall_intervals_stop_where_their_bootstrap_grows_too_costly():
    x = np.random.default_rng(0).normal(size=MAX_KENDALL_MODELS + 1)
    result = rank_correlations(x, x, resamples=20)
    assert result["kendall"] == 1.0 and np.isnan([result["kendall_lo"], result["kendall_hi"]]).all()
    assert result["spearman_lo"] == result["spearman_hi"] == 1.0


# -------------------------------------------------------------------------- within a sweep
def test_per_epoch_correlation_with_the_last_epoch(tmp_path):
    n = 12
    # epoch 1 reverses the final order, epoch 2 keeps it, epoch 3 is the last
    curves = [[30 - i / n, 20 + i / n, 10 + i / n] for i in range(n)]
    sweep = load(set_curves(write_sweep(tmp_path / "rx", n=n), curves))
    table, note = per_epoch_correlations(sweep, resamples=200)
    assert note == "" and table["epoch"].tolist() == [1, 2] and set(table["last_epoch"]) == {3}
    assert table["models"].tolist() == [n, n]
    assert table["spearman"].tolist() == pytest.approx([-1.0, 1.0])
    assert table["kendall"].tolist() == pytest.approx([-1.0, 1.0])
    assert table["spearman_lo"].iloc[1] == pytest.approx(1.0) and table["kendall_hi"].iloc[0] == pytest.approx(-1.0)


def test_unusable_models_and_incomplete_curves_are_left_out(tmp_path):
    sweep = load(write_sweep(tmp_path / "rx", n=12, diverged=2, failed=1))
    table, note = per_epoch_correlations(sweep, resamples=50)
    assert set(table["models"]) == {9} and note == ""  # the diverged and failed models are not usable
    assert table["spearman"].tolist() == pytest.approx([1.0, 1.0, 1.0])  # write_sweep's curves keep one order


def test_long_training_lists_20_epochs_evenly_spaced(tmp_path):
    # 40 epochs: the odd ones rank the models as the last one does, the even ones in reverse
    curves = [[50 - e + (-i if e % 2 else i) for e in range(39)] + [5 + i] for i in range(6)]
    table, _ = per_epoch_correlations(load(set_curves(write_sweep(tmp_path / "rx", n=6), curves)), resamples=20)
    assert table["epoch"].tolist() == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39]
    assert set(table["spearman"]) == {1.0}


def test_a_single_epoch_cannot_be_checked_within_the_sweep(tmp_path):
    sweep = load(write_sweep(tmp_path / "one", n=8, epochs=1))
    table, note = per_epoch_correlations(sweep)
    assert len(table) == 0
    assert note == "one: the within-sweep check needs per-epoch errors of at least 2 epochs (one has 1)"


def test_a_single_epoch_sweep_beside_a_longer_one_still_draws(tmp_path):
    write_sweep(tmp_path / "one", n=8, epochs=1)
    set_curves(write_sweep(tmp_path / "four", n=8, epochs=4), [[40 - i, 30 - i, 20 - i, 10 - i] for i in range(8)])
    result = proxy_fidelity(named(tmp_path, "one", "four"))
    assert result.epochs["spearman_lo"].dtype == float and result.epochs["spearman"].tolist() == [1.0, 1.0, 1.0]
    assert plot.fidelity_figure(result, "best_error") is not None


# ------------------------------------------------------------------------- across budgets
@pytest.fixture(scope="module")
def budgets(tmp_path_factory):
    """regnetx and anynetx_e, each at 2 and 6 epochs: regnetx is better at 2 epochs and worse at 6,
    and its 6-epoch errors are in the reverse order of its 2-epoch errors."""
    root = tmp_path_factory.mktemp("budgets")

    def errors(base, reverse=False):  # base + rank / 20, the rank following the sampling order
        return lambda model, rng: base + ((19 - model["index"]) if reverse else model["index"]) / 20

    write_sweep(root / "rx_2ep", n=20, epochs=2, error=errors(10))
    write_sweep(root / "rx_6ep", n=20, epochs=6, error=errors(9, reverse=True))
    write_sweep(root / "e_2ep", space="anynetx_e", n=20, epochs=2, error=errors(12))
    write_sweep(root / "e_6ep", space="anynetx_e", n=20, epochs=6, error=errors(7))
    return root


def test_sweeps_of_the_same_models_at_two_budgets_form_a_pair(budgets):
    sweeps = named(budgets, "rx_6ep", "e_2ep", "rx_2ep", "e_6ep")
    pairs = budget_pairs(sweeps)
    assert [(p.short.name, p.long.name) for p in pairs] == [("rx_2ep", "rx_6ep"), ("e_2ep", "e_6ep")]
    assert (pairs[0].short_budget, pairs[0].long_budget) == (Budget(2), Budget(6)) and len(pairs[0].ids) == 20
    result = proxy_fidelity(sweeps, seed=1, resamples=200)
    rx, e = result.budgets.itertuples(index=False)
    assert (rx.spearman, rx.kendall, e.spearman, e.kendall) == pytest.approx((-1.0, -1.0, 1.0, 1.0))
    assert (rx.short_budget, rx.long_budget, rx.models) == ("2 epochs", "6 epochs", 20)
    assert (rx.mean_short, rx.mean_long) == pytest.approx((10 + 9.5 / 20, 9 + 9.5 / 20))
    assert len(result.epochs) == 1 + 5 + 1 + 5 and result.notes == []  # epochs before the last, per sweep


def test_two_spaces_whose_order_flips_between_budgets(budgets):
    result = proxy_fidelity(named(budgets, "rx_2ep", "rx_6ep", "e_2ep", "e_6ep"), resamples=50)
    (row,) = result.orders.itertuples(index=False)
    assert (row.a, row.b, row.short_budget, row.long_budget) == ("regnetx", "anynetx_e", "2 epochs", "6 epochs")
    assert (row.median_diff_short, row.median_diff_long) == pytest.approx((-2.0, 2.0))
    assert row.D_short == row.D_long == 1.0 and row.p_short < 0.05 and row.p_long < 0.05
    assert row.order == "flipped: regnetx better short, anynetx_e long"
    assert row.significance == "same: differ at both"


def test_the_budget_counts_training_images(tmp_path):
    curves = [[20 + i, 15 + i, 10 + i] for i in range(8)]
    small = set_curves(write_sweep(tmp_path / "small", n=8, epochs=3), curves, train_images=3000)
    set_curves(write_sweep(tmp_path / "large", n=8, epochs=3), curves, train_images=60000)
    set_curves(write_sweep(tmp_path / "same", n=8, epochs=3), curves, train_images=3000)
    assert budget(load(small)) == Budget(3, 3000) and str(Budget(3, 60000)) == "3 epochs x 60,000 images"
    pairs = budget_pairs(named(tmp_path, "large", "small", "same"))
    assert [(p.short.name, p.long.name) for p in pairs] == [("small", "large"), ("same", "large")]


def test_sweeps_sharing_fewer_than_5_models_are_no_pair(tmp_path):
    write_sweep(tmp_path / "a", n=10, epochs=2)
    write_sweep(tmp_path / "b", n=10, epochs=4, seed=7)  # other models
    write_sweep(tmp_path / "c", n=10, epochs=4, failed=6)  # the same models, 4 of them usable
    assert budget_pairs(named(tmp_path, *"abc")) == []


# ------------------------------------------------------------------------------------ CLI
def test_fidelity_command_prints_tables_and_draws_the_figure(budgets, tmp_path, capsys):
    dirs = [budgets / n for n in ("rx_2ep", "rx_6ep", "e_2ep", "e_6ep")]
    assert main(["fidelity", *map(str, dirs), "-o", str(tmp_path / "f.png"), "--metric", "final_error"]) == 0
    out, err = capsys.readouterr()
    blocks = out.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [
        "# rank correlation of each epoch's test error with the last epoch's (95% bootstrap intervals, "
        "1,000 resamples of the models)",
        "# rank correlation of the same models' final_error at two budgets (95% bootstrap intervals, "
        "1,000 resamples of the models)",
        "# two spaces at the same two budgets: median error difference (a - b) and KS test",
    ]
    assert "-1.000 [-1.000, -1.000]" in blocks[1] and "flipped: regnetx better short, anynetx_e long" in blocks[2]
    assert len(blocks[0].splitlines()) == 2 + 12  # heading, column names, the epochs before the last of each sweep
    assert err == f"wrote {tmp_path / 'f.png'}\n"
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["fidelity", str(dirs[0]), "-o", str(tmp_path / "f.svg")]) == 0
    out, err = capsys.readouterr()
    assert "note: no two sweeps share at least 5 models at different budgets" in err
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")


def test_fidelity_command_errors_are_one_line(tmp_path, capsys):
    one = write_sweep(tmp_path / "one", n=8, epochs=1)
    (one / "samples.jsonl").write_text("")  # as a sweep directory has
    name = load_all([one])[0].name
    assert main(["fidelity", str(one)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith(
        f"designspace: error: {name}: the within-sweep check needs per-epoch errors of at least 2 "
        f"epochs ({name} has 1); no two sweeps share at least 5 models at different budgets"
    )
    assert (
        f"designspace sweep --samples {one / 'samples.jsonl'} --dataset fashion-mnist --epochs 2 "
        f"-o {tmp_path / 'one_2ep'}" in err
    )
    assert main(["fidelity", str(one), "-o", str(tmp_path / "f.pdf")]) == 2
    assert "use .png or .svg" in capsys.readouterr().err
    assert not (tmp_path / "f.pdf").exists()


# --------------------------------------------------------------------------------- report
def test_the_report_shows_fidelity_when_the_sweeps_allow_it(budgets, tmp_path):
    page = build_report(named(budgets, "rx_2ep", "rx_6ep"), ablations=(), top=3, fit_sample=3)
    section = page[page.index('<section id="fidelity">') :]
    section = section[: section.index("</section>")]
    assert "The same models at two budgets" in section and "<td>rx_2ep</td><td>rx_6ep</td>" in section
    assert "-1.000 [-1.000, -1.000]" in section and 'src="data:image/png;base64,' in section
    assert "Two spaces at the same two budgets" not in section  # one space only
    page = Page("one epoch, one sweep")
    _fidelity(page, load_all([write_sweep(tmp_path / "one", n=8, epochs=1)]), "best_error", 0)
    assert page.sections == []
