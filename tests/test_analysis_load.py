"""Loading populations: designspace results tables, pycls sweep.json and NDS data json.

`results_row` and `write_sweep` build results tables in the sweep contract's layout; the other
analysis tests import them.
"""

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

import designspace as ds
from designspace.analysis.columns import parameters
from designspace.analysis.load import check_metric, load, load_all
from designspace.analysis.spec_columns import block_widths, spec_value

FASHION = {"resolution": 28, "in_channels": 1, "num_classes": 10, "stem_type": "res_stem_cifar"}


def results_row(
    model: dict, best: float, *, status="ok", epochs=4, dataset="fashion-mnist", index=0, recipe=None
) -> dict:
    """A results-table row for a samples record, with a test-error curve ending at `best`; `recipe`
    adds keys to the recorded recipe."""
    curve = [round(best + 8.0 / (e + 1) - 8.0 / epochs, 4) for e in range(epochs)]
    curve[-1] = best
    row = {"id": model["id"], "space": model["space"], "seed": model.get("seed", 0), "index": index}
    row.update({f"sample.{k}": json.dumps(v) if isinstance(v, list) else v for k, v in model["sample"].items()})
    row.update(model["complexity"])
    row.update(
        spec=json.dumps(model["spec"], sort_keys=True),
        status=status,
        reason=None,
        best_error=min(curve),
        final_error=curve[-1],
        train_loss=[2.0 / (e + 1) for e in range(epochs)],
        test_error=curve,
        epochs=epochs,
        wall_time=1.0,
        images_per_second=100.0,
        device="cpu",
        threads=1,
        dataset=dataset,
        recipe=json.dumps({"epochs": epochs, "lr": 0.1, **(recipe or {})}),
    )
    if status == "diverged":  # as the training code records it: the best error before divergence is kept
        row.update(
            reason="non-finite training loss in epoch 2", final_error=math.nan, test_error=curve[:1] + [None], epochs=2
        )
    elif status == "failed":
        row.update(
            reason="RuntimeError: out of memory",
            best_error=math.nan,
            final_error=math.nan,
            test_error=None,
            train_loss=None,
            epochs=0,
        )
    return row


def write_sweep(
    directory,
    space="regnetx",
    n=60,
    seed=0,
    activation=None,
    diverged=0,
    failed=0,
    error=None,
    flops=(20e6, 40e6),
    epochs=4,
    options=None,
    recipe=None,
):
    """A sweep directory of n real models of `space` (Fashion-MNIST context) with errors from
    error(record, rng) (default: lowest near 20 blocks and 30 MF, plus seeded noise).

    options(i) gives the i-th model network-level spec keys, as a space with them in its context
    (the same for all models) or sampled per model (a sample.NAME column) would; recipe adds keys
    to every row's recipe.
    """
    space_obj = ds.load_space(space).with_context(**FASHION, activation=activation)
    models = space_obj.sample(n, seed=seed, flops=flops)
    if options:
        chosen = [options(i) for i in range(len(models))]
        sampled = {k for o in chosen for k in o if len({json.dumps(c.get(k)) for c in chosen}) > 1}
        models = [with_options(m, o, sampled) for m, o in zip(models, chosen)]
    rng = np.random.default_rng(seed + 100)

    def default_error(model, rng):
        depth = sum(model["spec"]["depths"])
        return round(
            8.0 + 0.1 * abs(depth - 20) + 3 * abs(math.log(model["complexity"]["flops"] / 30e6)) + rng.gamma(2.0, 0.5),
            2,
        )

    rows = [
        results_row(m, (error or default_error)(m, rng), epochs=epochs, index=i, recipe=recipe)
        for i, m in enumerate(models)
    ]
    for i in range(diverged + failed):
        rows[i] = results_row(
            models[i],
            rows[i]["best_error"],
            status="diverged" if i < diverged else "failed",
            epochs=epochs,
            index=i,
            recipe=recipe,
        )
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(directory / "results.parquet", index=False)
    return directory


def with_options(model: dict, options: dict, sampled: set) -> dict:
    """The samples record of `model` with spec keys changed (a valid spec, its id and complexity),
    the `sampled` ones also recorded as sampled parameters."""
    spec = ds.ModelSpec.from_dict({**model["spec"], **options})
    d = spec.to_dict()
    return {
        **model,
        "id": hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12],
        "sample": {**model["sample"], **{k: options.get(k, spec_value(d, k)) for k in sampled}},
        "spec": d,
        "complexity": dict(ds.complexity(spec)),
    }


def test_designspace_directory_counts_diverged_and_failed_models(tmp_path):
    sweep = load(write_sweep(tmp_path / "rx", n=12, diverged=2, failed=1))
    assert sweep.name == "rx" and sweep.format == "designspace" and len(sweep.frame) == 12
    usable = sweep.usable("best_error")
    assert len(usable) == 9 and usable["status"].eq("ok").all()
    # the diverged rows keep a finite best_error (as training records it) and are still left out
    assert np.isfinite(sweep.frame["best_error"].iloc[:2]).all()
    assert sweep.excluded("best_error") == {"diverged": 2, "failed": 1}
    assert sweep.excluded_text("best_error") == "2 diverged, 1 failed models excluded"


def test_derived_columns_come_from_the_spec(tmp_path):
    sweep = load(write_sweep(tmp_path / "e", space="anynetx_e", n=20))
    row = sweep.frame.iloc[0]
    spec = json.loads(row["spec"])
    assert row["total_depth"] == sum(spec["depths"])
    assert row["num_stages"] == len(spec["depths"])
    assert row["b"] == max(spec["bottleneck_ratios"]) and row["g"] == max(spec["group_widths"])
    assert row["activation"] == "ReLU" and row["se"] == "no SE"
    assert block_widths(row["spec"]) == [w for w, d in zip(spec["widths"], spec["depths"]) for _ in range(d)]
    depths = json.loads(row["sample.depth"])
    assert [row[f"sample.depth[{i + 1}]"] for i in range(len(depths))] == depths
    # per-stage lists are expanded, shared scalars kept, the total depth listed once
    columns = parameters(sweep.frame)
    assert columns[0] == "total_depth" and "sample.depth" not in columns
    assert {"sample.depth[1]", "sample.width[4]"} <= set(columns)


def test_a_regnet_depth_equal_to_the_total_depth_is_listed_once(tmp_path):
    frame = load(write_sweep(tmp_path / "rx", n=30)).frame
    columns = parameters(frame)
    assert "total_depth" in columns and "sample.depth" not in columns
    assert {"sample.w0", "sample.wa", "sample.wm"} <= set(columns)


def test_silu_sweeps_and_block_families(tmp_path):
    frame = load(write_sweep(tmp_path / "m", space="mobilenet", n=10, activation="silu")).frame
    assert set(frame["activation"]) == {"Swish (SiLU)"}
    # b <= 1 in every stage (e = 1/b >= 1) and below 1 in some, g = 1 everywhere
    expected = [
        "inverted + depthwise" if min(json.loads(s)["bottleneck_ratios"]) < 1 else "depthwise (g = 1)"
        for s in frame["spec"]
    ]
    assert frame["block"].tolist() == expected and "inverted + depthwise" in expected


TWEAKS = [
    {},
    {"stride_position": "1x1"},
    {"deep_stem": True},
    {"deep_stem": True, "shortcut": "avgpool_conv"},
    {"stride_position": "1x1", "deep_stem": True},
    {"preactivation": True},
]


def test_seed_architecture_columns_read_omitted_keys_at_their_defaults(tmp_path):
    frame = load(
        write_sweep(tmp_path / "r", space="resnet", n=12, options=lambda i: TWEAKS[i % 6], recipe={"drop_path": 0.2})
    ).frame
    assert "stride_position" not in json.loads(frame["spec"].iloc[0])  # to_dict leaves defaults out
    assert frame["tweak"].tolist()[:6] == [
        "ResNet-B",
        "ResNet-A",
        "ResNet-C",
        "ResNet-D",
        "stride on 1x1, deep stem, 1x1 conv shortcut",
        "ResNet-B",
    ]
    assert frame["preactivation"].tolist()[:6] == ["post-activation"] * 5 + ["pre-activation"]
    assert set(frame["cardinality"]) == {1.0}  # ResNet: one group in every stage
    assert set(frame["drop_path"]) == {0.2}
    # stochastic depth is off in a recipe that does not name it (Recipe's default)
    assert set(load(write_sweep(tmp_path / "rx", n=4)).frame["drop_path"]) == {0.0}


def test_cardinality_is_the_most_groups_over_stages_and_tweaks_need_resnet_blocks(tmp_path):
    frame = load(write_sweep(tmp_path / "x", space="resnext", n=20)).frame
    for spec, cardinality in zip(frame["spec"], frame["cardinality"]):
        spec = json.loads(spec)
        inner = [round(w / b) for w, b in zip(spec["widths"], spec["bottleneck_ratios"])]
        assert cardinality == max(i // g for i, g in zip(inner, spec["group_widths"]))
    plain = load(write_sweep(tmp_path / "v", space="nds_vanilla", n=4)).frame
    assert plain[["tweak", "preactivation", "cardinality"]].isna().all().all()
    basic = load(write_sweep(tmp_path / "b", space="nds_resnet", n=4)).frame
    assert basic["tweak"].isna().all() and set(basic["preactivation"]) == {"post-activation"}


def test_a_parquet_file_and_names_that_clash(tmp_path):
    write_sweep(tmp_path / "a" / "run", n=8)
    write_sweep(tmp_path / "b" / "run", n=8, seed=1)
    sweeps = load_all([tmp_path / "a" / "run", tmp_path / "b" / "run"])
    assert [s.name for s in sweeps] == ["RegNetX (a/run)", "RegNetX (b/run)"]
    assert load(tmp_path / "a" / "run" / "results.parquet").name == "results"


def test_sweeps_are_named_by_their_space_and_told_apart_by_their_folder(tmp_path):
    write_sweep(tmp_path / "rx_relu", n=6)
    write_sweep(tmp_path / "rx_silu", n=6, activation="silu")
    write_sweep(tmp_path / "a", space="anynetx_a", n=6)
    assert [s.name for s in load_all([tmp_path / "a", tmp_path / "rx_relu"])] == ["AnyNetX_A", "RegNetX"]
    names = [s.name for s in load_all([tmp_path / "rx_relu", tmp_path / "rx_silu", tmp_path / "a"])]
    assert names == ["RegNetX (rx_relu)", "RegNetX (rx_silu)", "AnyNetX_A"]
    # a given name (a study's) wins, and an unnamed sweep that would share it gets its folder
    named = load_all([tmp_path / "rx_relu", tmp_path / "rx_silu"], ["ReLU", None])
    assert [s.name for s in named] == ["ReLU", "RegNetX"]
    assert [s.name for s in load_all([tmp_path / "a", tmp_path / "rx_relu"], ["RegNetX", None])] == [
        "RegNetX",
        "RegNetX (rx_relu)",
    ]


def test_the_definition_file_of_a_sweep_points_to_its_table(tmp_path):
    write_sweep(tmp_path / "rx", n=8)
    (tmp_path / "rx" / "sweep.json").write_text(
        json.dumps(
            {"n": 8, "models": "abc", "dataset": {"name": "fashion-mnist"}, "recipe": {"epochs": 4}, "source": {}}
        )
    )
    sweep = load(tmp_path / "rx" / "sweep.json")
    assert sweep.name == "rx" and len(sweep.frame) == 8 and sweep.definition["recipe"] == {"epochs": 4}


# ----------------------------------------------------------------------------------- pycls
def pycls_job(model_type: str, errors: list[float], max_epoch: int, job: int, ema=True) -> dict:
    cfg = {
        "MODEL": {"TYPE": model_type, "NUM_CLASSES": 10},
        "TRAIN": {"IM_SIZE": 32, "DATASET": "cifar10"},
        "OPTIM": {"BASE_LR": 0.1 * (job + 1), "WEIGHT_DECAY": 5e-5, "MAX_EPOCH": max_epoch},
        "RNG_SEED": job,
    }
    if model_type == "regnet":
        cfg["REGNET"] = {
            "DEPTH": 13,
            "W0": 24,
            "WA": 36.44,
            "WM": 2.49,
            "GROUP_W": 8,
            "BOT_MUL": 1.0,
            "STEM_TYPE": "res_stem_cifar",
            "STEM_W": 16,
        }
    else:
        cfg["ANYNET"] = {
            "DEPTHS": [1, 2],
            "WIDTHS": [16, 32],
            "STRIDES": [1, 2],
            "BOT_MULS": [1.0, 0.5],
            "GROUP_WS": [8, 8],
            "STEM_TYPE": "res_stem_cifar",
            "STEM_W": 16,
        }
    stats = {
        "epoch_ind": list(range(1, len(errors) + 1)),
        "epoch_max": [max_epoch] * len(errors),
        "top1_err": errors,
        "min_top1_err": list(np.minimum.accumulate(errors)),
    }
    record = {
        "cfg": cfg,
        "complexity": {"flops": 1000 + job, "params": 100 + job, "acts": 10 + job},
        "train_epoch": {"loss": [2.0 - 0.1 * i for i in range(len(errors))]},
        "test_epoch": {k: (list(np.array(v) + 1.0) if k.endswith("err") else v) for k, v in stats.items()},
        "log_file": f"/sweeps/cifar/logs/{job:06d}/stdout.log",
        "err": "",
    }
    if ema:
        record["test_ema_epoch"] = stats
    return record


def test_pycls_sweep_json(tmp_path):
    jobs = [
        pycls_job("regnet", [30.0, 20.0, 25.0], 3, 0),
        pycls_job("anynet", [40.0, 35.0, 33.5], 3, 1, ema=False),
        pycls_job("regnet", [50.0, 45.0], 3, 2),
    ]
    jobs[2]["err"] = "Traceback ...\nRuntimeError: CUDA out of memory"
    path = tmp_path / "cifar_regnet" / "sweep.json"
    path.parent.mkdir()
    path.write_text(json.dumps(jobs))
    sweep = load(path)
    frame = sweep.frame
    assert sweep.format == "pycls" and sweep.name == "cifar_regnet"
    assert list(frame["id"]) == ["000000", "000001", "000002"]
    # the EMA error when there is one (pycls's primary metric), the plain test error otherwise
    assert frame["best_error"].iloc[0] == 20.0 and frame["final_error"].iloc[0] == 25.0
    assert frame["best_error"].iloc[1] == 34.5 and frame["final_error"].iloc[1] == 34.5
    assert list(frame["status"]) == ["ok", "ok", "failed"]
    assert frame["reason"].iloc[2] == "stopped after 2 of 3 epochs: RuntimeError: CUDA out of memory"
    assert sweep.excluded_text() == "1 failed model excluded"
    assert frame["sample.depth"].iloc[0] == 13 and frame["sample.wa"].iloc[0] == 36.44
    assert json.loads(frame["sample.bottleneck_ratio"].iloc[1]) == [1.0, 2.0]
    spec = ds.from_pycls(jobs[0]["cfg"]).to_dict()
    assert json.loads(frame["spec"].iloc[0]) == spec
    assert frame["total_depth"].iloc[0] == 13 and frame["flops"].iloc[1] == 1001
    # a regnet and an anynet job: only the total depth and the learning rate are numbers that vary
    assert parameters(sweep.usable()) == ["total_depth", "sample.lr"]
    assert frame["drop_path"].isna().all()  # pycls's OPTIM is not a designspace recipe: unknown, not 0


# ------------------------------------------------------------------------------------- NDS
def nds_record(job, ds_, ws, block="res_bottleneck_block", bot_muls=None, num_gs=None, best=10.0):
    net = {"block_type": block, "ds": ds_, "ws": ws, "ss": [1, 1, 2, 2]}
    if bot_muls is not None:
        net.update(bot_muls=bot_muls, num_gs=num_gs)
    return {
        "job_id": job,
        "rng_seed": job,
        "net": net,
        "optim": {"base_lr": 0.1, "wd": 5e-4, "max_ep": 3},
        "flops": 1e6 * (job + 1),
        "params": 1e5 * (job + 1),
        "min_test_top1": best,
        "test_ep_top1": [best + 5, best + 1, best],
        "train_ep_loss": [1.0, 0.5, 0.3],
    }


def test_nds_data_json(tmp_path):
    records = [
        nds_record(0, [1, 2, 1, 4], [16, 64, 128, 256], bot_muls=[0.0, 0.25, 0.5, 1.0], num_gs=[1, 2, 4, 1], best=7.5),
        nds_record(1, [1, 3, 3, 3], [16, 16, 32, 64], block="res_basic_block", best=8.25),
        nds_record(2, [1, 1, 1, 1], [16, 16, 32, 64], block="double_plain_block", best=float("nan")),
        {
            "job_id": 3,
            "net": {"genotype": {"normal": [["sep_conv_3x3", 0]]}, "depth": 8, "width": 16},
            "optim": {"base_lr": 0.1, "wd": 5e-4},
            "flops": 5e6,
            "params": 3e5,
            "min_test_top1": 6.0,
            "test_ep_top1": [9.0, 6.0],
            "train_ep_loss": [1.0, 0.4],
        },
    ]
    path = tmp_path / "ResNeXt-A.json"
    path.write_text(json.dumps(records))
    sweep = load(path)
    frame = sweep.frame
    assert sweep.format == "nds" and sweep.name == "ResNeXt-A" and set(frame["dataset"]) == {"cifar10"}
    spec = json.loads(frame["spec"].iloc[0])
    # the first list entry is the stem; group width = inner width / number of groups
    assert spec["depths"] == [2, 1, 4] and spec["widths"] == [64, 128, 256] and spec["strides"] == [1, 2, 2]
    assert spec["stem_width"] == 16 and spec["bottleneck_ratios"] == [4.0, 2.0, 1.0]
    assert spec["group_widths"] == [8, 16, 256]
    assert json.loads(frame["spec"].iloc[2])["block_type"] == "vanilla_block"
    assert json.loads(frame["sample.num_groups"].iloc[0]) == [2, 4, 1]
    assert frame["cardinality"].iloc[0] == 4 and frame["drop_path"].isna().all()
    assert list(frame["status"]) == ["ok", "ok", "diverged", "ok"]
    assert sweep.excluded_text() == "1 diverged model excluded"
    assert frame["best_error"].iloc[1] == 8.25 and frame["final_error"].iloc[1] == 8.25
    assert pd.isna(frame["spec"].iloc[3]) and frame["sample.depth"].iloc[3] == 8
    assert list(sweep.usable()["id"]) == ["0", "1", "3"]


def test_nds_reruns_file_and_imagenet_suffix(tmp_path):
    top = [nds_record(0, [1, 1, 1, 1], [16, 16, 32, 64], block="res_basic_block")]
    mid = [nds_record(1, [1, 2, 2, 2], [16, 16, 32, 64], block="res_basic_block", best=12.0)]
    path = tmp_path / "ResNet_reruns_in.json"
    path.write_text(json.dumps({"top": top, "mid": mid}))
    frame = load(path).frame
    assert list(frame["rerun_group"]) == ["top", "mid"] and set(frame["dataset"]) == {"imagenet"}
    assert json.loads(frame["spec"].iloc[0])["stem_type"] == "res_stem_in"


# ------------------------------------------------------------------------------- bad input
def test_bad_inputs_have_one_line_messages(tmp_path):
    cases = []
    with pytest.raises(ValueError, match="no such file or directory") as e:
        load(tmp_path / "nowhere")
    cases.append(e)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="no results.parquet here") as e:
        load(tmp_path / "empty_dir")
    cases.append(e)
    pd.DataFrame({"id": pd.Series([], dtype=str), "spec": pd.Series([], dtype=str)}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(ValueError, match="the results table is empty") as e:
        load(tmp_path / "e.parquet")
    cases.append(e)
    pd.DataFrame({"id": ["a"], "best_error": [1.0]}).to_parquet(tmp_path / "nospec.parquet")
    with pytest.raises(ValueError, match="no 'spec' column.*It has: id, best_error") as e:
        load(tmp_path / "nospec.parquet")
    cases.append(e)
    (tmp_path / "other.json").write_text(json.dumps([{"name": "x"}]))
    with pytest.raises(ValueError, match="neither a results directory nor a known json format") as e:
        load(tmp_path / "other.json")
    cases.append(e)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a results directory nor a known file") as e:
        load(tmp_path / "notes.txt")
    cases.append(e)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="cannot be read as parquet") as e:
        load(tmp_path / "bad.parquet")
    cases.append(e)
    sweep = load(write_sweep(tmp_path / "rx", n=5))
    with pytest.raises(ValueError, match="rx: no column 'top5_error'; error columns here: best_error, final_error$"):
        check_metric([sweep], "top5_error")
    assert all("\n" not in str(c.value) for c in cases)
