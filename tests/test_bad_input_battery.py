"""Bad input across every command, as a new user types it: each ends in one line that says what is
wrong, exit code 2, no traceback and no warnings, before any sampling or training, and writes
nothing. (Bad files have their own cases in test_bad_files.py; hangs and Ray in test_sweep*.py.)"""

import json

import pytest
from cli_errors import fails

import designspace as ds
from designspace.samples_io import write_samples

SYNTHETIC = ["--dataset", "synthetic"]
TRAIN = ["train", "--space", "regnetx", *SYNTHETIC]
SWEEP = ["sweep", "--space", "regnetx", "--n", 2, *SYNTHETIC]
SAMPLE = ["sample", "--space", "regnetx", "--n", 5]

CASES = {
    # sample
    "n zero": ([*SAMPLE[:3], "--n", 0, "-o", "x.jsonl"], "argument --n: '0' is out of range; expected an integer >= 1"),
    "n beyond the draws": ([*SAMPLE[:3], "--n", 10**9, "-o", "x.jsonl"], "more than the 2,000,000 allowed"),
    "n beyond a finite space": (
        ["sample", "--space", "mobilenet_v1", "--n", 200, "-o", "x.jsonl"],
        "holds at most 124 distinct networks",
    ),
    "window upside down": ([*SAMPLE, "--flops", "5M:1M", "-o", "x.jsonl"], "has LO above HI"),
    "window not a window": ([*SAMPLE, "--flops", "400M", "-o", "x.jsonl"], "is not a window LO:HI"),
    "negative seed": ([*SAMPLE, "--seed", -1, "-o", "x.jsonl"], "argument --seed: '-1' is out of range"),
    "no draws": ([*SAMPLE, "--max-draws", 0, "-o", "x.jsonl"], "argument --max-draws"),
    "zero resolution": ([*SAMPLE, "--resolution", 0, "-o", "x.jsonl"], "argument --resolution"),
    "negative head width": ([*SAMPLE, "--head-width", -8, "-o", "x.jsonl"], "argument --head-width: '-8'"),
    "unknown space": (["sample", "--space", "regnetq", "--n", 5, "-o", "x.jsonl"], "unknown space 'regnetq'"),
    "unknown output format": ([*SAMPLE, "-o", "x.txt"], "use one of .jsonl, .csv, .parquet"),
    "output in a protected place": ([*SAMPLE, "-o", "/proc/x.jsonl"], "cannot write /proc/x.jsonl"),
    "output under a file": ([*SAMPLE, "-o", "samples.jsonl/x.jsonl"], "samples.jsonl is a file"),
    # train
    "infinite lr": ([*TRAIN, "--lr", "inf"], "argument --lr: 'inf' is out of range; expected a number > 0"),
    "nan lr": ([*TRAIN, "--lr", "nan"], "argument --lr: 'nan' is out of range"),
    "zero threads": ([*TRAIN, "--threads", 0], "argument --threads: '0' is out of range"),
    "threads not a number": ([*TRAIN, "--threads", "many"], "argument --threads: 'many' is not an integer"),
    "momentum one": (
        [*TRAIN, "--momentum", 1],
        "argument --momentum: '1' is out of range; expected a number in [0, 1)",
    ),
    "smoothing one": ([*TRAIN, "--label-smoothing", 1], "argument --label-smoothing"),
    "negative drop path": ([*TRAIN, "--drop-path", -0.1], "argument --drop-path"),
    "zero epochs": ([*TRAIN, "--epochs", 0], "argument --epochs"),
    "zero batch": ([*TRAIN, "--batch-size", 0], "argument --batch-size"),
    "negative weight decay": ([*TRAIN, "--weight-decay", -1e-4], "argument --weight-decay"),
    "negative warm-up": ([*TRAIN, "--warmup-epochs", -1], "argument --warmup-epochs"),
    "missing data folder": (
        ["train", "--space", "regnetx", "--data-dir", "nowhere"],
        "nowhere (from --data-dir) does not exist",
    ),
    "unknown dataset": (["train", "--space", "regnetx", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    "spec and space": ([*TRAIN, "--spec", "models.jsonl"], "give either --spec or --space, not both"),
    "several models, no index": (
        ["train", "--spec", "models.jsonl", *SYNTHETIC],
        "holds 3 models; choose one with --index N",
    ),
    "a spec with a space's override": (
        ["train", "--spec", "models.jsonl", "--index", 0, "--activation", "silu", *SYNTHETIC],
        "--activation shape(s) models drawn with --space",
    ),
    "index beyond the file": (
        ["train", "--spec", "models.jsonl", "--index", 3, *SYNTHETIC],
        "--index 3: models.jsonl holds 3 model(s), numbered 0 to 2",
    ),
    "index without a spec": ([*TRAIN, "--index", 1], "--index N picks a model of a --spec samples file"),
    "truncated spec": (["train", "--spec", "truncated.json", *SYNTHETIC], "truncated.json: not valid JSON"),
    # sweep
    "negative GPUs": ([*SWEEP, "--gpus-per-trial", -1, "-o", "s"], "argument --gpus-per-trial: '-1' is out of range"),
    "zero CPUs": ([*SWEEP, "--cpus-per-trial", 0, "-o", "s"], "argument --cpus-per-trial: '0' is out of range"),
    "negative retries": ([*SWEEP, "--retries", -1, "-o", "s"], "argument --retries: '-1' is out of range"),
    "no concurrency": ([*SWEEP, "--max-concurrent", 0, "-o", "s"], "argument --max-concurrent"),
    "no output": (SWEEP, "-o DIR: say where the sweep goes"),
    "no models": (["sweep", *SYNTHETIC, "-o", "s"], "give --space NAME --n N"),
    "no n": (["sweep", "--space", "regnetx", *SYNTHETIC, "-o", "s"], "--n: say how many models"),
    "space and samples": ([*SWEEP, "--samples", "models.jsonl", "-o", "s"], "give either --samples FILE or --space"),
    "missing samples": (["sweep", "--samples", "none.jsonl", *SYNTHETIC, "-o", "s"], "none.jsonl' does not exist"),
    "resume nothing": (["sweep", "--resume", "nothing"], "no sweep.json"),
    "resume with a recipe": (["sweep", "--resume", "nothing", "--epochs", 3], "drop --epochs"),
    "resume two folders": (["sweep", "--resume", "nothing", "-o", "other"], "name different sweeps"),
    "address not HOST:PORT": (
        [*SWEEP, "--address", "cluster", "-o", "s"],
        "argument --address: 'cluster': expected HOST:PORT",
    ),
    # results, complexity, fit, spaces
    "results of nothing": (["results", "nothing"], "nothing"),
    "complexity of nothing": (["complexity", "nothing.json"], "nothing.json: no such file"),
    "complexity index beyond": (["complexity", "models.jsonl", "--index", 7], "--index 7: models.jsonl holds 3"),
    "fit of a typo": (["fit", "results/typo"], "results/typo is neither a sweep directory"),
    "fit of a fraction": (["fit", "24,56.5,152"], "give per-block widths as integers"),
    "fit top zero": (["fit", "24", "56", "--top", 0], "argument --top"),
    "unknown command": (["sampel"], "invalid choice: 'sampel'"),
    # analysis
    "report of nothing": (["report", "nothing", "-o", "r.html"], "nothing"),
    "report in a protected place": (["report", "nothing", "-o", "/proc/r.html"], "cannot write /proc/r.html"),
    "edf to a text file": (["edf", "nothing", "-o", "e.txt"], "e.txt"),
    "study of nothing": (["study", "nothing.toml"], "nothing.toml"),
    "study not TOML": (["study", "models.jsonl"], "models.jsonl"),
    "fidelity of nothing": (["fidelity", "nothing"], "nothing"),
    "zero bins": (["report", "nothing", "--bins", 0], "argument --bins"),
}


@pytest.fixture(scope="module")
def models():
    return ds.load_space("regnetx").with_context(resolution=16, in_channels=3, num_classes=4).sample(3, seed=0)


@pytest.mark.parametrize("argv, message", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_before_any_work_and_writes_nothing(argv, message, tmp_path, monkeypatch, capsys, models):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESIGNSPACE_DATA", raising=False)
    write_samples(models, tmp_path / "models.jsonl")
    (tmp_path / "samples.jsonl").write_text("")
    (tmp_path / "truncated.json").write_text(json.dumps(models[0]["spec"])[:40])
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    fails(argv, capsys, message)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_a_data_folder_from_the_environment_is_named_as_such(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESIGNSPACE_DATA", str(tmp_path / "gone"))
    fails(
        ["train", "--space", "regnetx"],
        capsys,
        f"data folder {tmp_path / 'gone'} (from DESIGNSPACE_DATA) does not exist",
    )
