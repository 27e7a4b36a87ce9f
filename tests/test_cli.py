"""The command line as a user runs it: a real subprocess, real files."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from designspace.samples_io import read_samples

DESIGNSPACE = [sys.executable, "-m", "designspace"]


def run(*args, check=True):
    result = subprocess.run([*DESIGNSPACE, *map(str, args)], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_headline_sample_command_is_reproducible(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    result = run("sample", "--space", "regnetx", "--n", 500, "--flops", "360e6:400e6", "-o", a)
    run("sample", "--space", "regnetx", "--n", 500, "--flops", "360M:400M", "-o", b)
    assert a.read_bytes() == b.read_bytes()
    umask = os.umask(0)
    os.umask(umask)
    assert a.stat().st_mode & 0o777 == 0o666 & ~umask  # written atomically, with the usual permissions
    assert "sampled 500 unique regnetx models" in result.stdout  # the result; progress and notes go to stderr
    lines = [json.loads(line) for line in a.read_text().splitlines()]
    assert len(lines) == 500
    assert set(lines[0]) == {"id", "space", "seed", "index", "sample", "spec", "complexity"}
    assert all(360e6 <= r["complexity"]["flops"] <= 400e6 for r in lines)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_by_extension_read_back_as_the_same_records(tmp_path, suffix):
    jsonl, table = tmp_path / "s.jsonl", tmp_path / f"s{suffix}"
    common = [
        "sample",
        "--space",
        "anynetx_c",
        "--n",
        30,
        "--seed",
        5,
        "--resolution",
        32,
        "--in-channels",
        1,
        "--num-classes",
        10,
        "--stem-type",
        "res_stem_cifar",
        "--params",
        ":2M",
    ]
    run(*common, "-o", jsonl)
    run(*common, "-o", table)
    frame = pd.read_csv(table) if suffix == ".csv" else pd.read_parquet(table)
    assert len(frame) == 30 and {"sample.depth", "sample.group_width", "flops", "spec"} <= set(frame.columns)
    from_table, from_jsonl = read_samples(table), read_samples(jsonl)
    assert [r["spec"] for r in from_table] == [r["spec"] for r in from_jsonl]
    assert [r["sample"] for r in from_table] == [r["sample"] for r in from_jsonl]
    assert all(r["params"] <= 2e6 for r in frame.to_dict("records"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "--space", "regnetq", "--n", 5, "-o", "{tmp}/x.jsonl"], "unknown space 'regnetq'"),
        (
            ["sample", "--space", "regnetx", "--n", 5, "--flops", "1:2", "--max-draws", 20000, "-o", "{tmp}/x.jsonl"],
            "closest had flops",
        ),
        (["sample", "--space", "regnetx", "--n", 5, "-o", "{tmp}/x.txt"], "use one of .jsonl, .csv, .parquet"),
        (["sample", "--space", "{tmp}/bad.toml", "--n", 5, "-o", "{tmp}/x.jsonl"], "not valid TOML"),
        (["complexity", "{tmp}/missing.yaml"], "no such file"),
        (["complexity", "{tmp}/bad.toml"], "not valid JSON"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    (tmp_path / "bad.toml").write_text("kind = [\n")
    (tmp_path / "x.jsonl").write_text("precious\n")
    result = run(*[str(a).format(tmp=tmp_path) for a in args], check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert (tmp_path / "x.jsonl").read_text() == "precious\n"  # nothing already written is touched


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["sample", "--space", "regnetx", "--n", 5, "--flops", "400e6:360e6", "-o", "x.jsonl"],
            "designspace sample: error: argument --flops: window '400e6:360e6' has LO above HI; see designspace sample --help",
        ),
        (
            ["sample", "--space", "regnetx", "-o", "x.jsonl"],
            "designspace sample: error: the following arguments are required: --n; see designspace sample --help",
        ),
        (["smaple"], "designspace: error: argument COMMAND: invalid choice: 'smaple'"),
    ],
)
def test_argument_errors_are_one_line_too(args, message):
    result = run(*args, check=False)
    assert result.returncode == 2 and result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


def test_complexity_of_a_pycls_yaml_and_a_spec_json(tmp_path):
    yaml_file = tmp_path / "RegNetY-200MF.yaml"
    yaml_file.write_text(
        "MODEL:\n  TYPE: regnet\n  NUM_CLASSES: 1000\nREGNET:\n  SE_ON: true\n  DEPTH: 13\n"
        "  W0: 24\n  WA: 36.44\n  WM: 2.49\n  GROUP_W: 8\n"
    )
    expected = {"flops": 199519076, "params": 3162996, "acts": 2168052}
    assert json.loads(run("complexity", yaml_file, "--json").stdout) == expected
    assert "199,519,076" in run("complexity", yaml_file).stdout
    samples = tmp_path / "s.jsonl"
    run("sample", "--space", "regnety", "--n", 1, "-o", samples)
    record = json.loads(samples.read_text())
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(record["spec"]))
    assert json.loads(run("complexity", spec_file, "--json").stdout) == record["complexity"]


def test_complexity_of_every_model_of_a_samples_file_or_of_one(tmp_path):
    samples = tmp_path / "s.jsonl"
    run("sample", "--space", "regnetx", "--n", 3, "--seed", 4, "-o", samples)
    records = read_samples(samples)
    listed = [json.loads(line) for line in run("complexity", samples, "--json").stdout.splitlines()]
    assert listed == [{"id": r["id"], **r["complexity"]} for r in records]
    assert [line.split()[0] for line in run("complexity", samples).stdout.splitlines()] == [r["id"] for r in records]
    assert json.loads(run("complexity", samples, "--index", 2, "--json").stdout) == records[2]["complexity"]


def test_spaces_lists_the_shipped_spaces():
    out = run("spaces").stdout
    for name in ("anynetx_a", "anynetx_e", "regnetx", "regnety", "resnet", "resnext", "mobilenet", "nds_resnet"):
        assert name in out


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    """As `designspace spaces | head -1`: the reader has gone before the first write."""
    read, write = os.pipe()
    os.close(read)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output waits in the buffer
    result = subprocess.run([*DESIGNSPACE, "spaces"], stdout=write, stderr=subprocess.PIPE, text=True, env=environment)
    os.close(write)
    assert result.returncode == 141 and result.stderr == ""


# A model drawn under 3 MF from a space, trained on 8 px synthetic images with one thread, its record as JSON.
TRAIN_DRAWN = (
    "train",
    "--space",
    "nds_resnet",
    "--seed",
    2,
    "--flops",
    ":3M",
    "--dataset",
    "synthetic",
    "--resolution",
    8,
    "--threads",
    1,
    "--json",
)


def test_train_a_drawn_model_on_synthetic_data_as_json():
    result = run(*TRAIN_DRAWN, "--epochs", 2)
    record = json.loads(result.stdout)
    assert record["status"] == "ok" and record["epochs"] == 2 and len(record["test_error"]) == 2
    assert record["spec"]["resolution"] == 8 and record["spec"]["stem_type"] == "res_stem_cifar"
    assert record["recipe"]["zero_init_final_bn"] is True and record["recipe"]["augment"] is True


def test_recipe_switches_reach_the_record():
    result = run(*TRAIN_DRAWN, "--epochs", 1, "--no-zero-init", "--no-augment", "--no-nesterov")
    recipe = json.loads(result.stdout)["recipe"]
    assert (recipe["zero_init_final_bn"], recipe["augment"], recipe["nesterov"]) == (False, False, False)


def test_train_a_spec_file_with_progress_lines(tmp_path):
    samples = tmp_path / "s.jsonl"
    run(
        "sample",
        "--space",
        "anynetx_e",
        "--n",
        1,
        "--resolution",
        8,
        "--num-classes",
        4,
        "--stem-type",
        "res_stem_cifar",
        "--flops",
        ":5M",
        "-o",
        samples,
    )
    result = run(
        "train",
        "--spec",
        samples,
        "--dataset",
        "synthetic",
        "--resolution",
        8,
        "--epochs",
        1,
        "--batch-size",
        256,
        "--threads",
        1,
    )
    assert "epoch 1/1" in result.stderr and result.stdout.startswith("ok: best test error")


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "synthetic"], "give --spec FILE or --space NAME"),
        (["train", "--space", "regnetx", "--dataset", "cifar10", "--data-dir", "{tmp}"], "CIFAR-10 not found"),
        (["train", "--space", "regnetx", "--dataset", "synthetic", "--threads", "many"], "--threads"),
        (
            ["train", "--space", "regnetx", "--dataset", "synthetic", "--lr", "-1"],
            "argument --lr: '-1' is out of range; expected a number > 0",
        ),
    ],
)
def test_train_bad_input_is_one_line(tmp_path, args, message):
    result = run(*[str(a).format(tmp=tmp_path) for a in args], check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
