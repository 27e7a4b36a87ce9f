import warnings

import numpy as np
import pytest

import designspace as ds
from designspace import regnet
from designspace.complexity import complexity
from designspace.space import SamplingError
from designspace.space_file import parse_space, shipped_spaces

IMAGENET_400MF = (360e6, 400e6)
SPACES = sorted(shipped_spaces())


def window_for(space):
    return None if space.name.startswith("nds_") or space.fixed_stages else IMAGENET_400MF


def n_for(space):
    """mobilenet_v1 fixes the architecture and draws only its two multipliers (124 networks)."""
    return 100 if space.fixed_stages else 500


@pytest.mark.parametrize("name", SPACES)
def test_every_shipped_space_samples_500_unique_valid_models_reproducibly(name):
    space = ds.load_space(name)
    n = n_for(space)
    records = space.sample(n, seed=3, flops=window_for(space))
    again = space.sample(n, seed=3, flops=window_for(space))
    assert records == again
    assert len(records) == n and len({r["id"] for r in records}) == n
    assert len({str(r["spec"]) for r in records}) == n
    for r in records:
        spec = ds.ModelSpec.from_dict(r["spec"])
        assert complexity(spec) == r["complexity"]
        if window_for(space):
            assert 360e6 <= r["complexity"]["flops"] <= 400e6
        assert r["space"] == name and r["seed"] == 3
        check_constraints(space, r)


def check_constraints(space, record):
    sample = record["sample"]
    for name in space.shared:
        assert not isinstance(sample[name], list)
    for name in space.increasing:
        assert sample[name] == sorted(sample[name])
    if space.kind == "regnet":
        generated = regnet.generate(sample["w0"], sample["wa"], sample["wm"], sample["depth"])
        assert generated["num_stages"] == generated["total_stages"] == 4
        assert ds.ModelSpec.from_dict(record["spec"]) == regnet.make_spec(
            sample["depth"],
            sample["w0"],
            sample["wa"],
            sample["wm"],
            sample["group_width"],
            sample["bottleneck_ratio"],
            se_ratio=space.network["se_ratio"],
        )


def test_sampling_is_seeded_and_a_smaller_n_is_a_prefix():
    space = ds.load_space("anynetx_e")
    big = space.sample(300, seed=7, flops=IMAGENET_400MF)
    assert space.sample(40, seed=7, flops=IMAGENET_400MF) == big[:40]
    assert space.sample(40, seed=8, flops=IMAGENET_400MF)[0] != big[0]


def test_open_ended_windows_sample_without_numerical_warnings():
    space = ds.load_space("regnetx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models = space.sample(5, seed=0, flops=(1e9, float("inf")))
        assert min(m["complexity"]["flops"] for m in models) >= 1e9
        assert len(space.sample(5, seed=0, params=(0, 2e6))) == 5
        with pytest.raises(SamplingError, match=r"found 0 of 5 unique models with flops in \[0, 0\] after 1,000 draws"):
            space.sample(5, seed=0, flops=(0, 0), max_draws=1000)


def test_the_vectorized_prescreen_keeps_exactly_what_the_scalar_path_accepts():
    """Same raw draws, judged one by one with generate/make_spec/complexity (pycls's way)."""
    space = ds.load_space("regnety")
    size, lo, hi = 3000, 200e6, 800e6
    batch = space._draw(np.random.default_rng(11), size)
    fast = [batch.row(i)["sample"] for i in range(batch.size) if lo <= batch.complexity["flops"][i] <= hi]
    rng = np.random.default_rng(11)
    names = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
    raw = {k: space.parameters[k].sample(rng, size) for k in names}
    slow = []
    for i in range(size):
        s = {k: raw[k][i].item() for k in names}
        g = regnet.generate(s["w0"], s["wa"], s["wm"], s["depth"])
        if g["num_stages"] != g["total_stages"] or g["num_stages"] != 4:
            continue
        spec = regnet.make_spec(
            s["depth"], s["w0"], s["wa"], s["wm"], s["group_width"], s["bottleneck_ratio"], se_ratio=0.25
        )
        if lo <= complexity(spec)["flops"] <= hi:
            slow.append(s)
    key = lambda s: tuple(sorted(s.items()))  # noqa: E731
    assert len(slow) > 50
    assert sorted(map(key, fast)) == sorted(map(key, slow))


def test_context_can_be_overridden_for_small_grayscale_images():
    space = ds.load_space("regnetx").with_context(
        resolution=28, in_channels=1, num_classes=10, stem_type="res_stem_cifar"
    )
    records = space.sample(20, seed=0, flops=(10e6, 80e6))
    for r in records:
        assert (r["spec"]["resolution"], r["spec"]["in_channels"], r["spec"]["num_classes"]) == (28, 1, 10)
        assert r["spec"]["stem_type"] == "res_stem_cifar"
    with pytest.raises(ValueError, match="cannot override block_type"):
        ds.load_space("regnetx").with_context(block_type="vanilla_block")
    with pytest.raises(ValueError, match="activation"):
        ds.load_space("regnetx").with_context(activation="tanh")


USER_SPACE = """
description = "two-stage toy space"
kind = "anynet"

[network]
stem_type = "res_stem_cifar"
stem_width = 8
block_type = "res_basic_block"
strides = [1, 2]
resolution = 16
num_classes = 4

[parameters]
depth = { values = [1, 2] }
width = { values = [8, 16] }
"""


def test_a_space_for_a_datasets_images_takes_their_shape_and_a_cifar_stem_when_small():
    space = ds.load_space("regnetx")
    small = space.for_images(28, 1, 10, stem_width=16, activation=None)
    assert small.context == {
        **space.context,
        "resolution": 28,
        "in_channels": 1,
        "num_classes": 10,
        "stem_type": "res_stem_cifar",
        "stem_width": 16,
    }
    assert space.for_images(28, 1, 10, stem_type="simple_stem_in").context["stem_type"] == "simple_stem_in"
    assert space.for_images(224, 3, 1000).context["stem_type"] == space.context["stem_type"] == "simple_stem_in"


def test_a_users_toml_file_works_like_a_shipped_space(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(USER_SPACE)
    space = ds.load_space(str(path))
    assert space.name == "toy"
    records = space.sample(16, seed=0)  # the space holds exactly (2*2)^2 = 16 networks
    assert len({str(r["spec"]) for r in records}) == 16
    with pytest.raises(SamplingError, match="holds at most 16 distinct networks, fewer than the 17 asked for"):
        space.sample(17, seed=0, max_draws=20000)


def test_an_impossible_window_says_how_many_draws_and_the_closest_model():
    with pytest.raises(SamplingError, match=r"found 0 of 3 .* after 50,000 draws; the closest had flops"):
        ds.load_space("anynetx_a").sample(3, seed=0, flops=(1, 2), max_draws=50_000)


@pytest.mark.parametrize(
    "text, message",
    [
        ("kind = 'anynet'\n[network\n", "not valid TOML"),
        ("kind = 'graph'", "kind: 'graph'"),
        (USER_SPACE.replace("resolution = 16", "resolutoin = 16"), "network.resolutoin: unknown key"),
        (USER_SPACE.replace("width = { values = [8, 16] }", ""), "missing width"),
        (USER_SPACE.replace("values = [1, 2]", "values = [0, 2]"), "parameters.depth: values must be positive"),
        (
            USER_SPACE.replace("values = [1, 2]", "distribution = 'uniform', low = 1, hi = 3"),
            "parameters.depth: unknown key",
        ),
        (USER_SPACE + "[constraints]\nincreasing = ['depht']\n", "constraints.increasing: depht"),
        (USER_SPACE + "[constraints]\nflops = [5, 1]\n", "flops window"),
        (
            USER_SPACE.replace('block_type = "res_basic_block"', 'block_type = "res_bottleneck_block"'),
            "exactly one of group_width and num_groups",
        ),
        (USER_SPACE.replace("stem_width = 8", "stem_width = -8"), "network.stem_width"),
        (USER_SPACE.replace("strides = [1, 2]", ""), "network.strides"),
    ],
)
def test_malformed_space_files_name_the_key(tmp_path, text, message):
    assert_refused(tmp_path, text, message)


def assert_refused(tmp_path, text, message):
    """A space file with `text` is refused when loaded, with an error matching `message`."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        ds.load_space(path)


def test_unknown_names_and_missing_files():
    with pytest.raises(ValueError, match="unknown space 'regnetz'.*regnetx"):
        ds.load_space("regnetz")
    with pytest.raises(ValueError, match="does not exist"):
        ds.load_space("nowhere/space.toml")


def test_regnet_stage_constraint_is_configurable():
    doc = {
        "kind": "regnet",
        "network": {"resolution": 32, "stem_type": "res_stem_cifar", "num_classes": 10},
        "parameters": {
            "depth": {"distribution": "uniform", "low": 6, "high": 16},
            "w0": 16,
            "wa": 20.0,
            "wm": {"distribution": "log_uniform", "low": 2.0, "high": 3.0, "step": 0.001},
            "group_width": 8,
        },
        "constraints": {"stages": [2, 3]},
    }
    records = parse_space(doc).sample(10, seed=0)
    assert {len(r["spec"]["depths"]) for r in records} <= {2, 3}


def test_inverted_bottlenecks_need_an_integer_expansion(tmp_path):
    path = tmp_path / "inverted.toml"
    path.write_text(
        USER_SPACE.replace('block_type = "res_basic_block"', 'block_type = "res_bottleneck_linear_block"')
        + "bottleneck_ratio = { values = [1.0, 0.4] }\ngroup_width = 1\n"
    )
    with pytest.raises(ValueError, match="parameters.bottleneck_ratio: .*integer expansion"):
        ds.load_space(path)


SEED_SPACES = ["resnet_tweaks", "resnet_preact", "resnext_se", "densenet", "squeezenet", "mobilenet_v1"]


@pytest.mark.parametrize("name", SEED_SPACES)
def test_vectorized_complexity_of_network_level_draws_equals_each_spec(name):
    """Candidates whose form (stem, shortcut, pre-activation, ...) varies are costed exactly."""
    for space in (
        ds.load_space(name),
        ds.load_space(name).with_context(resolution=28, in_channels=1, num_classes=10, stem_type="res_stem_cifar"),
    ):
        batch = space._draw(np.random.default_rng(5), 600)
        assert batch.size > 100
        for i in range(0, batch.size, 3):
            row = batch.row(i)
            spec = space._spec(row)
            assert complexity(spec) == {m: int(batch.complexity[m][i]) for m in ("flops", "params", "acts")}


def test_inverted_residuals_that_expand_their_input_are_sampled_and_costed_exactly():
    """MobileNet-v2's form (expand_from "input") in a space: each stage's first block expands the
    previous stage's width, and a t = 1 block has no expansion conv."""
    space = ds.load_space("mobilenet").with_context(expand_from="input", activation="relu6")
    batch = space._draw(np.random.default_rng(3), 600)
    assert batch.size > 100
    for i in range(0, batch.size, 3):
        spec = space._spec(batch.row(i))
        assert spec.expand_from == "input"
        assert complexity(spec) == {m: int(batch.complexity[m][i]) for m in ("flops", "params", "acts")}


def test_variants_set_the_tweaks_of_each_model():
    records = ds.load_space("resnet_tweaks").sample(80, seed=0)
    seen = {}
    for r in records:
        spec = ds.ModelSpec.from_dict(r["spec"])
        seen[r["sample"]["tweak"]] = (spec.stride_position, spec.deep_stem, spec.shortcut)
    assert seen == {
        "A": ("1x1", False, "conv"),
        "B": ("3x3", False, "conv"),
        "C": ("3x3", True, "conv"),
        "D": ("3x3", True, "avgpool_conv"),
    }


def test_network_level_parameters_are_drawn_per_model():
    records = ds.load_space("resnet_preact").sample(60, seed=1)
    assert {ds.ModelSpec.from_dict(r["spec"]).preactivation for r in records} == {False, True}
    assert all(ds.ModelSpec.from_dict(r["spec"]).preactivation == r["sample"]["preactivation"] for r in records)
    se = {r["sample"]["se_ratio"]: r["spec"]["se_ratio"] for r in ds.load_space("resnext_se").sample(40, seed=1)}
    assert se == {0.0: 0.0, 0.25: 0.25}


def test_mobilenet_multipliers_scale_widths_and_resolution():
    space = ds.load_space("mobilenet_v1")
    by_multipliers = {
        (r["sample"]["width_multiplier"], r["sample"]["resolution_multiplier"]): r for r in space.sample(124, seed=0)
    }
    full = ds.ModelSpec.from_dict(by_multipliers[(1.0, 1.0)]["spec"])
    assert (full.stem_width, full.widths, full.resolution) == (32, (64, 128, 256, 512, 1024), 224)
    assert round(ds.complexity(full)["flops"] / 1e6) == 569
    half = ds.ModelSpec.from_dict(by_multipliers[(0.5, 0.5714285714285714)]["spec"])
    assert (half.stem_width, half.widths, half.resolution) == (16, (32, 64, 128, 256, 512), 128)
    with pytest.raises(SamplingError, match="holds at most 124 distinct networks, fewer than the 125 asked for"):
        space.sample(125, seed=0, max_draws=100_000)


SEED_SPACE = """
kind = "anynet"
[network]
block_type = "fire_block"
strides = [1, 2]
[parameters]
depth = { values = [1, 2] }
width = { values = [64, 128] }
bottleneck_ratio = 4
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (SEED_SPACE + "width_multiplier = 1.5\n", r"parameters.width_multiplier \(alpha\): values must be in \(0, 1\]"),
        (SEED_SPACE + "group_width = 8\n", "fire_block does not use group_width"),
        (
            SEED_SPACE + "preactivation = { values = [false, true] }\n",
            "parameters.preactivation = True: network.preactivation: True applies to",
        ),
        (SEED_SPACE + "expand_3x3_fraction = { values = [0.5, 1.0] }\n", "network.expand_3x3_fraction: must be in"),
        (
            SEED_SPACE.replace("depth = { values = [1, 2] }", "depth = [1, 2, 3]"),
            "parameters.depth: expected 2 positive",
        ),
        (
            SEED_SPACE + "[variants.stem]\ndeep = { deep_stem = true, stem_wdith = 8 }\n",
            "variants.stem.deep.stem_wdith",
        ),
        (SEED_SPACE + "[variants.bn]\noff = { batch_norm = 0 }\n", "variants.bn.off: network.batch_norm"),
        (SEED_SPACE + "[variants.depth]\na = {}\n", "variants.depth: the name of a parameter"),
    ],
)
def test_bad_seed_architecture_dimensions_name_the_key(tmp_path, text, message):
    assert_refused(tmp_path, text, message)


def test_the_dense_transition_prescreen_agrees_with_modelspec():
    """Every combination of depths and growth rates: the vectorized check keeps exactly the
    networks whose transitions ModelSpec accepts (compression 0.25 empties some of them)."""
    import itertools

    from designspace.sampler import _transitions_ok

    combos = np.array(
        [d + k for d in itertools.product([1, 2, 3], repeat=3) for k in itertools.product([1, 2], repeat=3)]
    )
    depths, growth = combos[:, :3], combos[:, 3:]
    kept = _transitions_ok({"stem_width": 4, "compression": 0.25}, depths, growth).all(axis=1)
    valid = []
    for d, k in zip(depths.tolist(), growth.tolist()):
        try:
            ds.ModelSpec(
                stem_type="res_stem_cifar",
                stem_width=4,
                block_type="dense_block",
                depths=d,
                widths=k,
                strides=[1, 2, 2],
                bottleneck_ratios=[0.25] * 3,
                group_widths=[4 * g for g in k],
                compression=0.25,
                resolution=16,
                num_classes=4,
            )
            valid.append(True)
        except ValueError:
            valid.append(False)
    assert 0 < sum(valid) < len(valid)
    assert kept.tolist() == valid
