"""Ablations (the RegNet paper's, ResNet tweaks, pre-activation, stochastic depth, cardinality): within-sweep
splits, matched sweep pairs, and what to run."""

import json

import numpy as np
import pytest
from scipy import stats
from test_analysis_load import TWEAKS, write_sweep

from designspace.analysis import ablate, good_range, load, load_all
from designspace.analysis.ablation import FACTOR_KEYS


def deeper_is_better(model, rng):
    return round(20.0 - 0.25 * sum(model["spec"]["depths"]) + rng.uniform(0, 1), 3)


def assert_quantile_groups(groups, values, errors, short, k=3):
    """k groups of consecutive values, each of at least 5 models, equal values never split, labelled
    by their range, holding their models' errors."""
    assert len(groups) == k and sum(len(g.errors) for g in groups) == len(values)
    for low, high in zip(groups, groups[1:]):
        assert low.values.max() < high.values.min()
    for g in groups:
        inside = (values >= g.values.min()) & (values <= g.values.max())
        assert len(g.errors) == inside.sum() >= 5
        assert sorted(g.errors) == sorted(errors[inside])
        lo, hi = g.values.min(), g.values.max()
        assert g.label == (f"{short} = {lo:g}" if lo == hi else f"{short} {lo:g} to {hi:g}")


def test_depth_within_a_sweep_in_thirds(tmp_path):
    sweep = load(write_sweep(tmp_path / "rx", n=60, error=deeper_is_better))
    result = ablate([sweep], "depth")
    (comparison,) = result.comparisons
    frame = sweep.usable()
    depth, errors = frame["total_depth"].to_numpy(float), frame["best_error"].to_numpy(float)
    assert comparison.label == "rx"
    assert_quantile_groups(comparison.groups, depth, errors, "depth")
    sizes = [len(g.errors) for g in comparison.groups]
    assert max(sizes) - min(sizes) <= 10  # near thirds, as far as ties at the cuts allow
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


def assert_one_clean_pair(result, label, group_labels):
    """The ablation found exactly one pair of sweeps, `label`, differing in nothing but the factor,
    with these groups and scipy's KS test between them."""
    assert [c.label for c in result.comparisons] == [label]
    comparison = result.comparisons[0]
    assert comparison.caveat == ""
    assert [g.label for g in comparison.groups] == group_labels
    expected = stats.ks_2samp(comparison.groups[0].errors, comparison.groups[1].errors)
    assert result.tests[["D", "p"]].iloc[0].tolist() == [expected.statistic, expected.pvalue]


def test_swish_vs_relu_pairs_the_matched_sweeps(tmp_path):
    write_sweep(tmp_path / "relu", n=30, seed=0)
    write_sweep(tmp_path / "silu", n=30, seed=0, activation="silu")
    write_sweep(tmp_path / "e", space="anynetx_e", n=30, seed=0)
    sweeps = load_all([tmp_path / "relu", tmp_path / "silu", tmp_path / "e"])
    result = ablate(sweeps, "activation")
    # anynetx_e vs silu would differ in the sampled parameters too; the matched pair differs in nothing else
    assert_one_clean_pair(
        result, "RegNetX (relu) vs RegNetX (silu)", ["ReLU in RegNetX (relu)", "Swish (SiLU) in RegNetX (silu)"]
    )
    relu, silu = (json.loads(s.frame["spec"].iloc[0]) for s in sweeps[:2])
    assert relu["widths"] == silu["widths"] and (relu["activation"], silu["activation"]) == ("relu", "silu")


def test_confounders_of_a_pair_are_named(tmp_path):
    write_sweep(tmp_path / "rx", n=20)
    write_sweep(tmp_path / "mb", space="mobilenet", n=20, activation="silu")
    result = ablate(load_all([tmp_path / "rx", tmp_path / "mb"]), "block")
    labels = [c.label for c in result.comparisons]
    assert "RegNetX vs MobileNet" in labels
    pair = result.comparisons[labels.index("RegNetX vs MobileNet")]
    assert [g.label for g in pair.groups] == [
        "X block (b >= 1, g > 1) in RegNetX",
        "mostly inverted + depthwise in MobileNet",
    ]
    caveat = pair.caveat
    assert caveat.startswith("these sweeps also differ in ")
    assert "activation (relu vs silu)" in caveat and "head_width (0 vs 1280)" in caveat
    assert "block_type (res_bottleneck_block vs res_bottleneck_linear_block)" in caveat
    assert result.verdict.outcome == "inconclusive at this n"  # a confounded gap is not the factor's
    assert "RegNetX vs MobileNet: " in result.verdict.numbers and "; confounded: these sweeps" in result.verdict.numbers


def with_definition(directory, n, recipe, space="regnetx", seed=0, context=None, flops=(20e6, 40e6)):
    """The sweep at directory, with the sweep.json of a designspace sweep of n models of space."""
    (directory / "sweep.json").write_text(
        json.dumps(
            {
                "n": n,
                "models": "x",
                "dataset": {"name": "fashion-mnist"},
                "recipe": recipe,
                "source": {
                    "space": space,
                    "seed": seed,
                    "flops": list(flops),
                    "params": None,
                    "acts": None,
                    "context": context or {},
                },
            }
        )
    )
    return load(directory)


def test_suggested_sweeps_keep_the_base_sweeps_network_overrides(tmp_path):
    sweep = with_definition(
        write_sweep(tmp_path / "t", space="resnet", n=12), 12, {"epochs": 4}, "resnet", context={"stem_width": 16}
    )
    assert ablate([sweep], "tweak").commands == [
        f"designspace sweep --space resnet_tweaks --n 12 --dataset fashion-mnist --epochs 4 --flops 20M:40M "
        f"--stem-width 16 -o {tmp_path / 'resnet_tweaks'}"
    ]


def test_what_to_run_when_no_sweep_answers(tmp_path):
    sweep = with_definition(write_sweep(tmp_path / "rx", n=12), 12, {"epochs": 4})
    se = ablate([sweep], "se")
    assert se.comparisons == [] and se.missing == "no sweep with SE to compare with; run regnety next to regnetx"
    assert se.commands == [
        f"designspace sweep --space regnety --n 12 --dataset fashion-mnist --epochs 4 "
        f"--flops 20M:40M -o {tmp_path / 'regnety'}"
    ]
    act = ablate([sweep], "activation")
    assert act.commands == [
        f"designspace sweep --space regnetx --n 12 --dataset fashion-mnist --epochs 4 "
        f"--flops 20M:40M --activation silu -o {tmp_path / 'regnetx_silu'}"
    ]
    b = ablate([sweep], "bottleneck")
    assert b.missing.startswith("no sweep varies the bottleneck ratio b") and "--space anynetx_e" in b.commands[0]


def test_groups_too_small_for_a_test_get_one_line_not_one_per_pair(tmp_path):
    sweep = load(write_sweep(tmp_path / "p", space="resnet", n=6, options=lambda i: {"preactivation": i % 2 == 1}))
    result = ablate([sweep], "preactivation")
    assert [len(g.errors) for g in result.comparisons[0].groups] == [3, 3] and len(result.tests) == 0
    assert result.skipped == ["p: groups of 3 and 3 models; a KS test needs at least 5 per group, so none is tested"]
    # a numeric factor of 6 models is not split at all; its good range is still drawn
    depth = ablate([load(write_sweep(tmp_path / "rx", n=6))], "depth")
    assert depth.comparisons == [] and len(depth.scatter) == 1 and not depth.commands and not depth.missing
    assert depth.skipped == [
        "rx: depth varies over 6 models, too few to split: a KS test needs at least 5 models per "
        "group, so 4 more models would allow halves and 9 more thirds"
    ]


def split(values, key="bottleneck"):
    from designspace.analysis.ablation import _split, factor

    values = np.asarray(values, float)
    return _split(values, np.arange(len(values), dtype=float), factor(key))


def test_numeric_factors_split_into_groups_large_enough_for_a_test():
    # few values, each with enough models: one group per value
    assert [(g.label, len(g.errors)) for g in split([1] * 20 + [2] * 20 + [4] * 20)] == [
        ("b = 1", 20),
        ("b = 2", 20),
        ("b = 4", 20),
    ]
    # few values, some rare: thirds with equal values kept together, never a group of 3
    assert [(g.label, len(g.errors)) for g in split([1] * 12 + [2] * 3 + [3] * 3 + [4] * 12)] == [
        ("b = 1", 12),
        ("b 2 to 3", 6),
        ("b = 4", 12),
    ]
    # too few for thirds: halves; too few for halves, or one value holding nearly all: no split
    values = np.arange(12.0)
    halves = split(values, "depth")
    assert_quantile_groups(halves, values, values, "depth", k=2)
    assert split(np.arange(6.0), "depth") == [] and split([1] * 9 + [2]) == []
    # many values with ties at the cuts: thirds of at least 5 each
    rng = np.random.default_rng(0)
    depth = rng.choice([12, 13, 14, 20, 21, 28], size=40, p=[0.4, 0.1, 0.1, 0.2, 0.1, 0.1]).astype(float)
    assert_quantile_groups(split(depth, "depth"), depth, np.arange(40.0), "depth")


def test_every_factor_runs_and_unknown_ones_are_refused(tmp_path):
    sweep = load(write_sweep(tmp_path / "rx", n=20, diverged=2))
    for key in FACTOR_KEYS:
        result = ablate([sweep], key)
        assert bool(result.comparisons or result.scatter) != bool(result.commands)
        assert result.groups["n"].sum() in (0, 18)  # the diverged models are never counted
        assert result.verdict.outcome in ("agrees", "disagrees", "inconclusive at this n", "not tested")
    with pytest.raises(ValueError, match="unknown ablation 'colour'; known: depth, bottleneck"):
        ablate([sweep], "colour")


def test_suggested_sweeps_for_an_imported_population_use_a_shipped_space(tmp_path):
    from test_analysis_load import pycls_job

    path = tmp_path / "cifar_regnet" / "sweep.json"
    path.parent.mkdir()
    path.write_text(json.dumps([pycls_job("regnet", [30.0 - i, 20.0 + i, 25.0], 3, i) for i in range(6)]))
    result = ablate([load(path)], "activation")
    assert result.commands == [
        f"designspace sweep --space regnetx --n 6 --dataset cifar10 --epochs 3 "
        f"--activation silu -o {path.parent / 'regnetx_silu'}"
    ]


def test_numeric_factors_compare_sweeps_only_when_their_ranges_do_not_overlap():
    from designspace.analysis.ablation import FACTORS, _separate

    wm = next(f for f in FACTORS if f.key == "wm")
    assert not _separate(wm, np.array([2.01, 2.5, 2.99]), np.array([2.04, 2.98]))  # no shared value, same range
    assert _separate(wm, np.array([2.0, 2.2]), np.array([2.5, 2.9]))
    activation = next(f for f in FACTORS if not f.numeric)
    assert _separate(activation, np.array(["relu"]), np.array(["silu"]))


# ------------------------------------------------- seed architectures: tweaks, pre-activation, ...
def by_tweak(model, rng):
    """ResNet-D best, A worst, as Bag of Tricks reports; each step 1 point, plus noise."""
    spec = model["spec"]
    points = (spec.get("stride_position") == "1x1") + (not spec.get("deep_stem")) + ("shortcut" not in spec)
    return round(10.0 + points + rng.uniform(0, 0.5), 3)


def test_resnet_tweaks_within_a_sweep_are_labelled_and_ordered(tmp_path):
    sweep = load(write_sweep(tmp_path / "t", space="resnet", n=50, options=lambda i: TWEAKS[i % 5], error=by_tweak))
    result = ablate([sweep], "tweak")
    (comparison,) = result.comparisons
    labels = ["ResNet-A", "ResNet-B", "ResNet-C", "ResNet-D", "stride on 1x1, deep stem, 1x1 conv shortcut"]
    assert comparison.label == "t" and [g.label for g in comparison.groups] == labels
    assert result.groups["n"].tolist() == [10] * 5 and len(result.tests) == 10
    means = dict(zip(result.groups["group"], result.groups["mean"]))
    assert means["ResNet-A"] > means["ResNet-B"] > means["ResNet-C"] > means["ResNet-D"]
    assert not result.scatter  # a categorical factor has no error-against-value panel


def test_preactivation_within_a_sweep(tmp_path):
    sweep = load(write_sweep(tmp_path / "p", space="resnet", n=20, options=lambda i: {"preactivation": i % 2 == 1}))
    result = ablate([sweep], "preactivation")
    (comparison,) = result.comparisons
    assert [g.label for g in comparison.groups] == ["post-activation", "pre-activation"]
    frame = sweep.usable()
    pre = frame["best_error"][frame["sample.preactivation"]].to_numpy()
    assert sorted(comparison.groups[1].errors) == sorted(pre)


def test_se_within_one_sweep_whose_se_ratio_varies_per_model(tmp_path):
    sweep = load(write_sweep(tmp_path / "se", space="resnext", n=20, options=lambda i: {"se_ratio": 0.25 * (i % 2)}))
    result = ablate([sweep], "se")
    assert [c.label for c in result.comparisons] == ["se"]
    assert [(g.label, len(g.errors)) for g in result.comparisons[0].groups] == [("SE", 10), ("no SE", 10)]


def test_a_tweak_pair_differs_in_its_own_keys_only_and_other_new_keys_are_named(tmp_path):
    write_sweep(tmp_path / "b", space="resnet", n=20)
    write_sweep(tmp_path / "d", space="resnet", n=20, options=lambda i: TWEAKS[3])
    write_sweep(tmp_path / "d_pre", space="resnet", n=20, options=lambda i: {**TWEAKS[3], "preactivation": True})
    b, d, d_pre = load_all([tmp_path / "b", tmp_path / "d", tmp_path / "d_pre"])
    (pair,) = ablate([b, d], "tweak").comparisons
    # stride position, stem and shortcut are the factor itself; the sampled tweak keys are in both sweeps
    assert pair.label == "ResNet (b) vs ResNet (d)" and pair.caveat == ""
    assert [g.label for g in pair.groups] == ["ResNet-B in ResNet (b)", "ResNet-D in ResNet (d)"]
    (confounded,) = ablate([b, d_pre], "tweak").comparisons
    assert "preactivation (false vs true)" in confounded.caveat
    (pre,) = ablate([d, d_pre], "preactivation").comparisons
    assert pre.caveat == "" and [g.label for g in pre.groups] == [
        "post-activation in ResNet (d)",
        "pre-activation in ResNet (d_pre)",
    ]
    (stem,) = ablate([b, d_pre], "preactivation").comparisons
    assert "deep_stem (false vs true)" in stem.caveat and "shortcut (conv vs avgpool_conv)" in stem.caveat


def test_stochastic_depth_compares_two_sweeps_of_the_same_models(tmp_path):
    write_sweep(tmp_path / "base", n=30, seed=0)
    write_sweep(tmp_path / "dp", n=30, seed=0, recipe={"drop_path": 0.1})
    write_sweep(tmp_path / "dp_lr", n=30, seed=0, recipe={"drop_path": 0.2, "lr": 0.05})
    base, dp, dp_lr = load_all([tmp_path / "base", tmp_path / "dp", tmp_path / "dp_lr"])
    result = ablate([base, dp, dp_lr], "stochastic_depth")
    # base vs dp_lr and dp vs dp_lr also differ in the learning rate; the matched pair does not
    assert_one_clean_pair(
        result, "RegNetX (base) vs RegNetX (dp)", ["drop path = 0 in RegNetX (base)", "drop path = 0.1 in RegNetX (dp)"]
    )
    (confounded,) = ablate([base, dp_lr], "stochastic_depth").comparisons
    assert confounded.caveat == "these sweeps also differ in recipe.lr (0.1 vs 0.05)"
    # for any other factor the drop-path rate is a confounder
    write_sweep(tmp_path / "silu_dp", n=30, seed=0, activation="silu", recipe={"drop_path": 0.1})
    (act,) = ablate(load_all([tmp_path / "base", tmp_path / "silu_dp"]), "activation").comparisons
    assert act.caveat == "these sweeps also differ in recipe.drop_path (0.0 vs 0.1)"


def test_cardinality_is_a_numeric_factor_split_into_thirds(tmp_path):
    sweep = load(write_sweep(tmp_path / "x", space="resnext", n=60))
    result = ablate([sweep], "cardinality")
    (comparison,) = result.comparisons
    cardinality = sweep.usable()["cardinality"].to_numpy(float)
    assert len(np.unique(cardinality)) > 6
    assert_quantile_groups(comparison.groups, cardinality, sweep.usable()["best_error"].to_numpy(float), "cardinality")
    ((name, x, e, good),) = result.scatter
    assert name == "x" and list(x) == list(cardinality) and good == good_range(x, e)


def test_what_to_run_for_the_seed_architecture_factors(tmp_path):
    sweep = with_definition(write_sweep(tmp_path / "rx", n=12), 12, {"epochs": 4})
    head = "designspace sweep --space {} --n 12 --dataset fashion-mnist --epochs 4 {}--flops 20M:40M"
    resnet = with_definition(write_sweep(tmp_path / "r", space="resnet", n=12), 12, {"epochs": 4}, "resnet")
    for key, space in {
        "tweak": "resnet_tweaks",
        "preactivation": "resnet_preact",
        "se": "resnext_se",
        "cardinality": "resnext",
    }.items():
        assert ablate([resnet], key).commands == [f"{head.format(space, '')} -o {tmp_path / space}"]
    on = ablate([sweep], "stochastic_depth")
    assert on.missing == "no pair of sweeps with and without stochastic depth; run regnetx with --drop-path 0.1"
    assert on.commands == [f"{head.format('regnetx', '--drop-path 0.1 ')} -o {tmp_path / 'regnetx_drop_path'}"]
    # a sweep trained with drop path: its rate is carried over, and the suggestion switches it off
    dp = with_definition(
        write_sweep(tmp_path / "dp", n=12, recipe={"drop_path": 0.2}), 12, {"epochs": 4, "drop_path": 0.2}
    )
    off = ablate([dp], "stochastic_depth").commands
    assert off == [f"{head.format('regnetx', '')} -o {tmp_path / 'regnetx_no_drop_path'}"]
    assert ablate([dp], "activation").commands == [
        f"{head.format('regnetx', '--drop-path 0.2 ')} --activation silu -o {tmp_path / 'regnetx_silu'}"
    ]
    # a network without residual blocks has no branch to drop: regnetx without and with it
    plain = with_definition(write_sweep(tmp_path / "v", space="nds_vanilla", n=12), 12, {"epochs": 4}, "nds_vanilla")
    result = ablate([plain], "stochastic_depth")
    assert "v has no residual blocks to drop" in result.missing
    assert result.commands == [
        f"{head.format('regnetx', '')} -o {tmp_path / 'regnetx'}",
        f"{head.format('regnetx', '--drop-path 0.1 ')} -o {tmp_path / 'regnetx_drop_path'}",
    ]
    # the base sweep's seed, so that the suggested sweep trains the same models
    seeded = with_definition(write_sweep(tmp_path / "s3", n=12, seed=3), 12, {"epochs": 4}, seed=3)
    assert ablate([seeded], "stochastic_depth").commands == [
        f"designspace sweep --space regnetx --n 12 --dataset fashion-mnist --seed 3 --epochs 4 --drop-path 0.1 "
        f"--flops 20M:40M -o {tmp_path / 'regnetx_drop_path'}"
    ]


def test_suggested_sweeps_carry_the_base_sweeps_non_default_recipe(tmp_path):
    recipe = {"epochs": 4, "lr": 0.05, "augment": False, "zero_init_final_bn": False, "nesterov": False}
    sweep = with_definition(write_sweep(tmp_path / "rx", n=12), 12, recipe)
    assert ablate([sweep], "se").commands == [
        f"designspace sweep --space regnety --n 12 --dataset fashion-mnist --epochs 4 --lr 0.05 --no-nesterov "
        f"--no-augment --no-zero-init --flops 20M:40M -o {tmp_path / 'regnety'}"
    ]


def test_a_suggested_sweep_its_space_cannot_fill_says_so(tmp_path):
    # at 28 px with a CIFAR stem, resnet_tweaks' smallest networks cost more than 6 MF
    small = with_definition(write_sweep(tmp_path / "rx", n=12, flops=(2e6, 6e6)), 12, {"epochs": 4}, flops=(2e6, 6e6))
    (command,) = ablate([small], "tweak").commands
    assert command.startswith("designspace sweep --space resnet_tweaks ") and " --flops 2M:6M " in command
    comment = command.split("  # ", 1)[1]
    assert comment.startswith(
        "resnet_tweaks: no model in this window at 28 px in 100,000 draws (the closest found: flops "
    ) and comment.endswith("M); widen the window")
    closest = float(comment.split("flops ")[1].split("M)")[0])
    assert 6 < closest < 12
    # the same window suits a space with smaller networks: no comment
    assert "#" not in ablate([small], "se").commands[0]


def test_every_suggested_space_is_shipped():
    from designspace.analysis.suggest import SUGGESTIONS
    from designspace.space_file import shipped_spaces

    suggested = {space for _, runs in SUGGESTIONS.values() for space, _ in runs} | {"regnetx", "regnety", "resnext_se"}
    assert suggested <= set(shipped_spaces())


# ------------------------------------------------------------------------------ verdicts
def by_bottleneck(step):
    """Error rising (step > 0) or falling (step < 0) by `step` points per doubling of b, plus noise."""

    def error(model, rng):
        return round(12.0 + step * np.log2(max(model["spec"]["bottleneck_ratios"])) + rng.uniform(0, 1), 3)

    return error


def test_the_verdict_on_b_follows_the_data(tmp_path):
    agree = ablate([load(write_sweep(tmp_path / "e", space="anynetx_e", n=60, error=by_bottleneck(2.0)))], "bottleneck")
    assert [g.label for g in agree.comparisons[0].groups] == ["b = 1", "b = 2", "b = 4"]
    assert agree.verdict.outcome == "agrees"
    assert agree.verdict.numbers.startswith("e: b = 1 median 12.") and " vs b = 2 + b = 4 " in agree.verdict.numbers
    assert ", KS D = " in agree.verdict.numbers and agree.verdict.text.startswith("agrees: e: b = 1 median")
    disagree = ablate(
        [load(write_sweep(tmp_path / "r", space="anynetx_e", n=60, error=by_bottleneck(-2.0)))], "bottleneck"
    )
    assert disagree.verdict.outcome == "disagrees"


def test_a_verdict_on_six_models_a_group_is_inconclusive_and_says_what_was_detectable(tmp_path):
    from designspace.analysis.edf import ks_detectable

    sweep = load(
        write_sweep(
            tmp_path / "se",
            space="resnext",
            n=12,
            options=lambda i: {"se_ratio": 0.25 * (i % 2)},
            error=lambda model, rng: round(rng.uniform(10, 12), 3),
        )
    )
    result = ablate([sweep], "se")
    assert result.verdict.outcome == "inconclusive at this n"
    assert ks_detectable(6, 6) == pytest.approx(1.358 * np.sqrt(12 / 36), abs=1e-3)
    assert result.verdict.numbers.startswith("se: SE median ") and "(n = 6) vs no SE " in result.verdict.numbers
    assert result.verdict.numbers.endswith(f"; at this n only a gap of D >= {ks_detectable(6, 6):.2f} is detectable")


def near_depth(best):
    return lambda model, rng: round(8.0 + 0.5 * abs(sum(model["spec"]["depths"]) - best) + rng.uniform(0, 1), 3)


def test_the_verdict_on_depth_reads_the_good_range(tmp_path):
    twenty = ablate([load(write_sweep(tmp_path / "a", n=60, error=near_depth(20)))], "depth")
    low, _, high = twenty.scatter[0][3]
    assert low <= 20 <= high and high - low < 28 - 12
    assert twenty.verdict.outcome == "agrees" and "the best models' good range of depth is" in twenty.verdict.numbers
    shallow = ablate([load(write_sweep(tmp_path / "s", n=60, error=near_depth(12)))], "depth")
    assert shallow.verdict.outcome == "disagrees" and shallow.scatter[0][3][2] < 20
    few = ablate([load(write_sweep(tmp_path / "f", n=6, error=near_depth(20)))], "depth")
    assert few.verdict.outcome == "inconclusive at this n"
    assert few.verdict.numbers.endswith("6 models; below 30 models a good range is too rough to judge")


def test_verdicts_combine_comparisons_and_list_every_factor(tmp_path):
    from designspace.analysis.ablation import Ablation, Comparison, Group, _verdict, factor, verdicts

    def comparison(label, se, no_se):
        return Comparison(
            label,
            [
                Group("SE", np.array(se, float), np.array(["SE"] * len(se))),
                Group("no SE", np.array(no_se, float), np.array(["no SE"] * len(no_se))),
            ],
        )

    good, bad = comparison("x", range(10), range(20, 30)), comparison("y", range(20, 30), range(10))
    noise = comparison("z", [1, 3, 5, 7, 9], [2, 4, 6, 8, 10])
    outcome = {
        key: _verdict(Ablation(factor("se"), comparisons=c)).outcome
        for key, c in {"agree": [good, noise], "disagree": [bad, noise], "both": [good, bad]}.items()
    }
    assert outcome == {"agree": "agrees", "disagree": "disagrees", "both": "inconclusive at this n"}
    assert _verdict(Ablation(factor("se"), comparisons=[good, bad])).numbers.startswith(
        "the comparisons contradict each other: x: SE median 4.50% (n = 10) vs no SE 24.50% (n = 10)"
    )
    table = verdicts(
        [load(write_sweep(tmp_path / "e", space="anynetx_e", n=60, error=by_bottleneck(2.0)))], ["bottleneck", "se"]
    )
    assert table.columns.tolist() == ["factor", "claim", "verdict", "numbers"]
    assert table["verdict"].tolist() == ["agrees", "not tested"]
    assert table["numbers"].iloc[1].startswith("no sweep or pair of sweeps with and without SE")


def test_twin_models_of_a_matched_pair_give_the_sharper_paired_verdict(tmp_path):
    def swish_a_little_better(model, rng):
        base = 20.0 + 8 * rng.uniform()  # architectures spread far more than the activation moves them
        return round(base - (0.3 if model["spec"]["activation"] == "silu" else 0.0), 3)

    write_sweep(tmp_path / "relu", n=30, error=swish_a_little_better)
    write_sweep(tmp_path / "silu", n=30, activation="silu", error=swish_a_little_better)
    result = ablate(load_all([tmp_path / "relu", tmp_path / "silu"]), "activation")
    (comparison,) = result.comparisons
    paired = comparison.paired
    assert paired.n == 30 and paired.b_better == 30 and paired.median_difference == pytest.approx(-0.3)
    assert result.tests["p"].iloc[0] > 0.05  # the EDFs alone cannot tell a 0.3-point shift
    assert result.verdict.outcome == "agrees"
    assert "30 twin models: Swish (SiLU) in RegNetX (silu) better in 30" in result.verdict.numbers
