"""The RegNet paper's ablations: within-sweep splits, matched sweep pairs, and what to run."""

import json

import numpy as np
import pytest
from scipy import stats
from test_analysis_load import write_sweep

from designspace.analysis import ablate, good_range, load, load_all
from designspace.analysis.ablation import FACTOR_KEYS


def deeper_is_better(model, rng):
    return round(20.0 - 0.25 * sum(model["spec"]["depths"]) + rng.uniform(0, 1), 3)


def test_depth_within_a_sweep_in_thirds(tmp_path):
    sweep = load(write_sweep(tmp_path / "rx", n=60, error=deeper_is_better))
    result = ablate([sweep], "depth")
    (comparison,) = result.comparisons
    frame = sweep.usable()
    depth, errors = frame["total_depth"].to_numpy(float), frame["best_error"].to_numpy(float)
    cuts = np.quantile(depth, [1 / 3, 2 / 3])
    bins = np.searchsorted(np.unique(cuts), depth, side="right")
    assert comparison.label == "rx" and len(comparison.groups) == 3
    for group, b in zip(comparison.groups, range(3)):
        inside = depth[bins == b]
        assert group.label == f"depth {inside.min():g} to {inside.max():g}"
        assert sorted(group.errors) == sorted(errors[bins == b])
    first = result.tests.iloc[0]
    expected = stats.ks_2samp(comparison.groups[0].errors, comparison.groups[1].errors)
    assert (first["D"], first["p"]) == (expected.statistic, expected.pvalue)
    assert len(result.tests) == 3 and result.groups["n"].sum() == 60
    # deeper models are better here, so the deepest third has the lowest mean error
    assert result.groups["mean"].tolist() == sorted(result.groups["mean"], reverse=True)
    ((name, x, e, good),) = result.scatter
    assert name == "rx" and good == good_range(depth, errors)
    assert not result.missing and not result.commands


def test_a_factor_with_few_values_gets_one_group_per_value(tmp_path):
    sweep = load(write_sweep(tmp_path / "e", space="anynetx_e", n=60))
    result = ablate([sweep], "bottleneck")
    labels = [g.label for g in result.comparisons[0].groups]
    values = sorted(set(sweep.usable()["b"]))
    assert labels == [f"b = {v:g}" for v in values]


def test_swish_vs_relu_pairs_the_matched_sweeps(tmp_path):
    write_sweep(tmp_path / "relu", n=30, seed=0)
    write_sweep(tmp_path / "silu", n=30, seed=0, activation="silu")
    write_sweep(tmp_path / "e", space="anynetx_e", n=30, seed=0)
    sweeps = load_all([tmp_path / "relu", tmp_path / "silu", tmp_path / "e"])
    result = ablate(sweeps, "activation")
    # anynetx_e vs silu would differ in the sampled parameters too; the matched pair differs in nothing else
    assert [c.label for c in result.comparisons] == ["relu vs silu"]
    comparison = result.comparisons[0]
    assert comparison.caveat == ""
    assert [g.label for g in comparison.groups] == ["ReLU (relu)", "Swish (SiLU) (silu)"]
    expected = stats.ks_2samp(comparison.groups[0].errors, comparison.groups[1].errors)
    assert result.tests[["D", "p"]].iloc[0].tolist() == [expected.statistic, expected.pvalue]
    relu, silu = (json.loads(s.frame["spec"].iloc[0]) for s in sweeps[:2])
    assert relu["widths"] == silu["widths"] and (relu["activation"], silu["activation"]) == ("relu", "silu")


def test_confounders_of_a_pair_are_named(tmp_path):
    write_sweep(tmp_path / "rx", n=20)
    write_sweep(tmp_path / "mb", space="mobilenet", n=20, activation="silu")
    result = ablate(load_all([tmp_path / "rx", tmp_path / "mb"]), "block")
    labels = [c.label for c in result.comparisons]
    assert "rx vs mb" in labels
    pair = result.comparisons[labels.index("rx vs mb")]
    assert [g.label for g in pair.groups] == ["X block (b >= 1, g > 1) (rx)", "mostly inverted + depthwise (mb)"]
    caveat = pair.caveat
    assert caveat.startswith("these sweeps also differ in ")
    assert "activation (relu vs silu)" in caveat and "head_width (0 vs 1280)" in caveat
    assert "block_type (res_bottleneck_block vs res_bottleneck_linear_block)" in caveat


def test_what_to_run_when_no_sweep_answers(tmp_path):
    directory = write_sweep(tmp_path / "rx", n=12)
    (directory / "sweep.json").write_text(json.dumps(
        {"n": 12, "models": "x", "dataset": {"name": "fashion-mnist"}, "recipe": {"epochs": 4},
         "source": {"space": "regnetx", "seed": 0, "flops": [20e6, 40e6], "params": None, "acts": None}}))
    sweep = load(directory)
    se = ablate([sweep], "se")
    assert se.comparisons == [] and se.missing == "no sweep with SE to compare with; run regnety next to regnetx"
    assert se.commands == [f"designspace sweep --space regnety --n 12 --dataset fashion-mnist --epochs 4 "
                           f"--flops 20M:40M -o {tmp_path / 'regnety'}"]
    act = ablate([sweep], "activation")
    assert act.commands == [f"designspace sweep --space regnetx --n 12 --dataset fashion-mnist --epochs 4 "
                            f"--flops 20M:40M --activation silu -o {tmp_path / 'regnetx_silu'}"]
    b = ablate([sweep], "bottleneck")
    assert b.missing.startswith("no sweep varies the bottleneck ratio b") and "--space anynetx_e" in b.commands[0]


def test_groups_too_small_for_a_test_are_reported(tmp_path):
    sweep = load(write_sweep(tmp_path / "e", space="anynetx_e", n=12))
    result = ablate([sweep], "group_width")
    small = [g for g in result.comparisons[0].groups if len(g.errors) < 5]
    assert small and len(result.skipped) >= len(small)
    assert all("a KS test needs at least 5 models per group" in line for line in result.skipped)


def test_every_factor_runs_and_unknown_ones_are_refused(tmp_path):
    sweep = load(write_sweep(tmp_path / "rx", n=20, diverged=2))
    for key in FACTOR_KEYS:
        result = ablate([sweep], key)
        assert bool(result.comparisons) != bool(result.commands)
        assert result.groups["n"].sum() in (0, 18)  # the diverged models are never counted
    with pytest.raises(ValueError, match="unknown ablation 'colour'; known: depth, bottleneck"):
        ablate([sweep], "colour")


def test_suggested_sweeps_for_an_imported_population_use_a_shipped_space(tmp_path):
    from test_analysis_load import pycls_job

    path = tmp_path / "cifar_regnet" / "sweep.json"
    path.parent.mkdir()
    path.write_text(json.dumps([pycls_job("regnet", [30.0 - i, 20.0 + i, 25.0], 3, i) for i in range(6)]))
    result = ablate([load(path)], "activation")
    assert result.commands == [f"designspace sweep --space regnetx --n 6 --dataset cifar10 --epochs 3 "
                               f"--activation silu -o {path.parent / 'regnetx_silu'}"]


def test_numeric_factors_compare_sweeps_only_when_their_ranges_do_not_overlap():
    from designspace.analysis.ablation import FACTORS, _separate

    wm = next(f for f in FACTORS if f.key == "wm")
    assert not _separate(wm, np.array([2.01, 2.5, 2.99]), np.array([2.04, 2.98]))  # no shared value, same range
    assert _separate(wm, np.array([2.0, 2.2]), np.array([2.5, 2.9]))
    activation = next(f for f in FACTORS if not f.numeric)
    assert _separate(activation, np.array(["relu"]), np.array(["silu"]))
