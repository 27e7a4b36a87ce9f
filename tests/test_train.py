"""Short training jobs, for real, on small seeded data."""

import math
import os

import pytest
import torch

import designspace as ds
from designspace.data import synthetic
from designspace.records import TrainRecord, keys
from designspace.train import Engine, Recipe, train

TINY = ds.ModelSpec(
    stem_type="res_stem_cifar",
    stem_width=8,
    block_type="res_bottleneck_block",
    depths=[1, 1],
    widths=[16, 32],
    strides=[1, 2],
    bottleneck_ratios=[1.0, 1.0],
    group_widths=[8, 8],
    se_ratio=0.25,
    head_width=0,
    num_classes=4,
    in_channels=3,
    resolution=16,
    activation="relu",
)
ONE_THREAD = Engine(device="cpu", threads=1)
QUICK = Recipe(epochs=3, batch_size=64, lr=0.1, warmup_epochs=0.5)


@pytest.fixture(scope="module")
def data():
    return synthetic(seed=0, resolution=16)


def test_a_tiny_network_learns_the_synthetic_task(data):
    record = train(TINY, data, QUICK, ONE_THREAD, progress=False)
    assert record["status"] == "ok" and record["reason"] is None
    assert record["epochs"] == 3 and len(record["train_loss"]) == len(record["test_error"]) == 3
    assert record["best_error"] < 25.0  # chance is 75%
    assert record["train_loss"][-1] < record["train_loss"][0]
    assert record["final_error"] == record["test_error"][-1] and record["best_error"] == min(record["test_error"])
    assert record["images_per_second"] > 0 and record["wall_time"] > 0
    assert (record["device"], record["threads"], record["train_images"]) == ("cpu", 1, 512)
    assert record["recipe"]["epochs"] == 3
    assert set(record) == set(keys(TrainRecord, optional=False))


def test_same_seed_same_errors_on_cpu(data):
    a = train(TINY, data, QUICK, ONE_THREAD, progress=False)
    b = train(TINY, data, QUICK, ONE_THREAD, progress=False)
    c = train(TINY, data, Recipe(**{**QUICK.__dict__, "seed": 1}), ONE_THREAD, progress=False)
    assert (a["train_loss"], a["test_error"]) == (b["train_loss"], b["test_error"])
    assert a["train_loss"] != c["train_loss"]


SEED_BLOCKS = {  # one small network per seed-architecture option (tests/test_seed_architectures.py has the big ones)
    "preactivated ResNet-D": dict(preactivation=True, deep_stem=True, shortcut="avgpool_conv", stride_position="1x1"),
    "DenseNet-BC": dict(
        block_type="dense_block", se_ratio=0.0, widths=[8, 8], bottleneck_ratios=[0.25, 0.25], group_widths=[32, 32]
    ),
    "SqueezeNet": dict(block_type="fire_block", se_ratio=0.0, bottleneck_ratios=[4.0, 4.0]),
    "MobileNet-v1": dict(block_type="depthwise_separable_block", se_ratio=0.0),
}


@pytest.mark.parametrize("name", SEED_BLOCKS)
def test_seed_architectures_learn(data, name):
    record = train(TINY.replace(**SEED_BLOCKS[name]), data, Recipe(epochs=8, batch_size=64), ONE_THREAD, progress=False)
    assert record["status"] == "ok" and record["best_error"] < 40.0, record  # chance is 75%


def test_networks_without_batch_norm_train(data):
    spec = TINY.replace(**SEED_BLOCKS["SqueezeNet"], batch_norm=False)
    record = train(spec, data, QUICK, ONE_THREAD, progress=False)
    assert record["status"] == "ok" and record["train_loss"][-1] < record["train_loss"][0]


def test_stochastic_depth_trains_and_needs_residual_branches(data):
    dropped = train(
        TINY.replace(depths=[2, 2]), data, Recipe(**{**QUICK.__dict__, "drop_path": 0.3}), ONE_THREAD, progress=False
    )
    plain = train(TINY.replace(depths=[2, 2]), data, QUICK, ONE_THREAD, progress=False)
    assert dropped["status"] == "ok" and dropped["recipe"]["drop_path"] == 0.3
    assert dropped["train_loss"] != plain["train_loss"]
    separable = TINY.replace(block_type="depthwise_separable_block", se_ratio=0.0)
    failed = train(separable, data, Recipe(epochs=1, drop_path=0.1), ONE_THREAD, progress=False)
    assert failed["status"] == "failed" and "recipe.drop_path" in failed["reason"]


@pytest.mark.parametrize("block_type", ["res_basic_block", "vanilla_block", "res_bottleneck_linear_block"])
def test_other_blocks_and_silu_train(data, block_type):
    spec = TINY.replace(block_type=block_type, se_ratio=0.0, activation="silu")
    record = train(spec, data, Recipe(epochs=1, batch_size=128), ONE_THREAD, progress=False)
    assert record["status"] == "ok" and math.isfinite(record["train_loss"][0])


def test_a_diverging_model_stops_early_and_keeps_its_record(data):
    record = train(
        TINY, data, Recipe(epochs=4, lr=1e12, warmup_epochs=0, label_smoothing=0.0), ONE_THREAD, progress=False
    )
    assert record["status"] == "diverged" and "non-finite" in record["reason"]
    assert record["epochs"] < 4 and not math.isfinite(record["train_loss"][-1])
    assert record["final_error"] is None


def test_a_failing_job_is_a_failed_record_not_an_exception(data):
    broken = type(data)(**{**data.__dict__, "train_labels": data.train_labels + 10})  # labels out of range
    record = train(TINY, broken, QUICK, ONE_THREAD, progress=False)
    assert record["status"] == "failed" and record["reason"]
    assert record["best_error"] is None and set(record) == set(keys(TrainRecord, optional=False))


def test_spec_and_data_must_match(data):
    with pytest.raises(ValueError, match="--resolution 16 --in-channels 3 --num-classes 4"):
        train(TINY.replace(resolution=28), data, QUICK, ONE_THREAD)


def test_automatic_threads_picks_a_measured_count_and_keeps_the_data_order(data):
    record = train(TINY, data, QUICK, Engine(device="cpu"), progress=False)
    assert 1 <= record["threads"] <= len(os.sched_getaffinity(0))
    assert torch.get_num_threads() == record["threads"]
    fixed = train(TINY, data, QUICK, Engine(device="cpu", threads=record["threads"]), progress=False)
    assert fixed["train_loss"] == record["train_loss"] and fixed["test_error"] == record["test_error"]


def test_schedule_warms_up_then_follows_a_half_cosine():
    recipe = Recipe(epochs=10, lr=0.4, warmup_epochs=1, warmup_factor=0.1)
    assert recipe.lr_at(0, 100) == pytest.approx(0.04)
    assert recipe.lr_at(50, 100) == pytest.approx(0.04 + 0.36 * 0.5)
    assert recipe.lr_at(100, 100) == pytest.approx(0.4)
    assert recipe.lr_at(550, 100) == pytest.approx(0.2)
    assert recipe.lr_at(999, 100) < 1e-4


@pytest.mark.parametrize(
    "field, value", [("epochs", 0), ("lr", -1.0), ("momentum", 1.0), ("label_smoothing", 1.0), ("warmup_factor", 0.0)]
)
def test_bad_recipes_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"recipe.{field}"):
        Recipe(**{field: value})


def test_progress_prints_one_line_per_epoch(data, capsys):
    train(TINY, data, Recipe(epochs=2, batch_size=256), ONE_THREAD, progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and "test error" in lines[0] and "img/s" in lines[0]


def test_no_weight_decay_on_batchnorm_and_biases_by_default():
    from designspace.train import parameter_groups

    model = ds.build_model(TINY)
    decay, no_decay = parameter_groups(model, Recipe())
    bn_and_bias = {
        id(p)
        for m in model.modules()
        for n, p in m.named_parameters(recurse=False)
        if isinstance(m, torch.nn.BatchNorm2d) or n == "bias"
    }
    assert {id(p) for p in no_decay["params"]} == bn_and_bias and no_decay["weight_decay"] == 0.0
    assert all(g["weight_decay"] == 5e-4 for g in parameter_groups(model, Recipe(bn_weight_decay=True))[:1])
    assert parameter_groups(model, Recipe(bn_weight_decay=True))[1]["params"] == []


def test_a_resolution_multiplier_trains_on_shrunk_images(data):
    """MobileNet's rho: a network for 12 px inputs trains on the 16 px dataset, shrunk."""
    small = TINY.replace(resolution=12)
    record = train(small, data, QUICK, ONE_THREAD, progress=False)
    assert record["status"] == "ok" and record["best_error"] < 50.0
    shrunk = data.resized(12)
    assert shrunk.train_images.shape[2:] == (12, 12) and shrunk.train_images.dtype == torch.uint8
    assert abs(shrunk.train_images.float().mean() - data.train_images.float().mean()) < 1.0  # area averaging
    with pytest.raises(ValueError, match="takes 3x20x20 inputs .* has 3x16x16 images"):
        train(TINY.replace(resolution=20), data, QUICK, ONE_THREAD, progress=False)


def test_a_profile_of_a_job_shows_its_phases(data):
    """The regions benchmarks/bench_breakdown.py reads: one per step for the step's phases, one
    per epoch for evaluation."""
    from torch.profiler import ProfilerActivity, profile

    from designspace.train import PHASES

    recipe = Recipe(epochs=2, batch_size=64)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        record = train(TINY, data, recipe, ONE_THREAD, progress=False)
    calls = {e.key: e.count for e in prof.key_averages() if e.key in PHASES.values()}
    steps = record["epochs"] * math.ceil(len(data.train_labels) / recipe.batch_size)
    assert calls == {
        PHASES["batch"]: steps,
        PHASES["forward"]: steps,
        PHASES["backward"]: steps,
        PHASES["optimizer"]: steps,
        PHASES["evaluate"]: record["epochs"],
    }
