"""Bad input files and unwritable outputs: each is one line on stderr that names the file (and the
key), exit code 2, no traceback, no Python warnings, and nothing written."""

import json
import os

import pandas as pd
import pytest
from cli_errors import fails

import designspace as ds
from designspace.output_files import atomic_write, check_writable
from designspace.results import result_row
from designspace.samples_io import write_samples

REGNET = "MODEL:\n  TYPE: regnet\nREGNET:\n"
ANYNET = "MODEL:\n  TYPE: anynet\nANYNET:\n  STRIDES: [2, 2]\n  GROUP_WS: [8, 8]\n"


def listing(folder) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def models():
    return ds.load_space("regnetx").with_context(resolution=28, in_channels=1, num_classes=10).sample(6, seed=0)


@pytest.fixture
def samples_dir(tmp_path, models):
    """A samples table copied in as a sweep's results table."""
    (tmp_path / "d").mkdir()
    write_samples(models, tmp_path / "d" / "results.parquet")
    return tmp_path / "d"


@pytest.fixture
def sweep_dir(tmp_path, models):
    """A finished sweep directory: its results table and sweep.json."""
    record = {
        "status": "ok",
        "train_loss": [1.0],
        "epochs": 1,
        "wall_time": 1.0,
        "images_per_second": 100.0,
        "device": "cpu",
        "threads": 1,
        "dataset": "synthetic",
        "train_images": 60,
        "test_images": 20,
        "recipe": {"epochs": 1},
    }
    rows = [
        result_row(m, dict(record, best_error=10.0 + i, final_error=11.0 + i, test_error=[11.0 + i]), 1)
        for i, m in enumerate(models)
    ]
    directory = tmp_path / "s"
    directory.mkdir()
    pd.DataFrame(rows).to_parquet(directory / "results.parquet", index=False)
    (directory / "sweep.json").write_text(
        json.dumps(
            {"n": len(models), "models": "x", "dataset": {"name": "synthetic"}, "recipe": {"epochs": 1}, "source": {}}
        )
    )
    return directory


# ------------------------------------------------------------------------------ pycls YAML
@pytest.mark.parametrize(
    "text, message",
    [
        (REGNET + "  DEPTH: twenty\n", "REGNET.DEPTH 'twenty' is not an integer"),
        (REGNET + "  DEPTH: 2.5\n", "REGNET.DEPTH 2.5 is not an integer"),
        (REGNET + "  WA: abc\n", "REGNET.WA 'abc' is not a finite number"),
        (REGNET + "  WM: .nan\n", "REGNET.WM nan is not a finite number"),
        (REGNET + "  GROUP_W: 0\n", "REGNET.GROUP_W 0 must be at least 1"),
        (REGNET + "  BOT_MUL: 0\n", "REGNET.BOT_MUL 0 must be positive"),
        (REGNET + "  W0: 20\n", "REGNET.W0 20 must be a positive multiple of 8"),
        (REGNET + "  SE_ON: maybe\n", "REGNET.SE_ON 'maybe' is not true or false"),
        (REGNET + "  STEM_TYPE: foo\n", "stem_type: 'foo' is not one of"),
        ("MODEL:\n  TYPE: regnet\n  NUM_CLASSES: ten\n", "MODEL.NUM_CLASSES 'ten' is not an integer"),
        ("REGNET:\n  DEPTH: 10\n", "MODEL.TYPE is missing; designspace reads anynet and regnet configs"),
        ("MODEL: regnet\n", "MODEL must be a mapping of MODEL.* keys (indented below it), got 'regnet'"),
        ("", "expected a pycls config"),
        (
            ANYNET + "  DEPTHS: [1, x]\n  WIDTHS: [8, 16]\n  BOT_MULS: [1, 1]\n",
            "ANYNET.DEPTHS [1, 'x']: 'x' is not an integer",
        ),
        (
            ANYNET + "  DEPTHS: [1, 1]\n  WIDTHS: [8, 0]\n  BOT_MULS: [1, 1]\n",
            "ANYNET.WIDTHS [8, 0]: each value must be at least 1",
        ),
        (
            ANYNET + "  DEPTHS: [1, 1]\n  WIDTHS: [8, 16]\n  BOT_MULS: [1, 0]\n",
            "ANYNET.BOT_MULS [1, 0]: each value must be positive",
        ),
        (ANYNET + "  DEPTHS: [1, 1]\n  WIDTHS: [8, 16]\n  BOT_MULS: [1, one]\n", "'one' is not a finite number"),
        (ANYNET + "  DEPTHS: 3\n", "ANYNET.DEPTHS 3 is not a list"),
    ],
)
def test_a_bad_pycls_yaml_names_its_key_and_file(tmp_path, capsys, text, message):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    fails(["complexity", path], capsys, f"{path}: ", message)
    assert listing(tmp_path) == {"cfg.yaml"}


# ----------------------------------------------------------------------------- results tables
@pytest.mark.parametrize(
    "command", [["results"], ["report", "-o", "{tmp}/r.html"], ["edf", "-o", "{tmp}/e.png"], ["fit"], ["fidelity"]]
)
def test_a_samples_table_in_place_of_results_is_named_with_what_to_run(tmp_path, capsys, samples_dir, command):
    argv = [command[0], samples_dir, *(a.format(tmp=tmp_path) for a in command[1:])]
    fails(
        argv,
        capsys,
        samples_dir / "results.parquet",
        "is not a results table",
        "looks like a samples file",
        "designspace sweep --samples",
    )
    assert listing(tmp_path) == {"d", "d/results.parquet"}


@pytest.mark.parametrize("command", [["results"], ["report", "-o", "{tmp}/r.html"]])
def test_a_results_table_that_is_not_parquet_is_named(tmp_path, capsys, command):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "results.parquet").write_text("not a table\n")
    fails(
        [command[0], tmp_path / "d", *(a.format(tmp=tmp_path) for a in command[1:])],
        capsys,
        tmp_path / "d" / "results.parquet",
        "cannot be read as parquet",
    )
    assert listing(tmp_path) == {"d", "d/results.parquet"}


def test_a_results_table_without_every_column_is_named(capsys, sweep_dir):
    table = sweep_dir / "results.parquet"
    pd.read_parquet(table).drop(columns=["wall_time", "device"]).to_parquet(table, index=False)
    fails(["results", sweep_dir], capsys, table, "lacks the column(s) wall_time, device")


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"n": 6, "models": "x", "data', "is not valid JSON (truncated?)"),
        ("[1, 2]", "holds a JSON list, not a sweep definition"),
        ('{"n": 6}', "lacks models, dataset, recipe, source"),
    ],
)
def test_a_bad_sweep_json_is_named(capsys, sweep_dir, text, message):
    (sweep_dir / "sweep.json").write_text(text)
    fails(["results", sweep_dir], capsys, sweep_dir / "sweep.json", message)


@pytest.mark.parametrize("command", [["report", "-o", "{tmp}/r.html"], ["sweep", "--resume"]])
def test_a_truncated_sweep_json_stops_the_other_commands_too(tmp_path, capsys, sweep_dir, command):
    (sweep_dir / "sweep.json").write_text('{"n": 6, "mod')
    before = listing(tmp_path)
    fails(
        [*(a.format(tmp=tmp_path) for a in command), sweep_dir],
        capsys,
        sweep_dir / "sweep.json",
        "is not valid JSON (truncated?)",
    )
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("models.jsonl", b"\x89PNG\x00\x01", "not a text file"),
        ("models.parquet", b"PAR1 but no more", "cannot be read as parquet"),
        ("models.csv", b"\xff\xfe\x00", "cannot be read as csv"),
    ],
)
def test_an_unreadable_samples_file_is_named(tmp_path, capsys, name, content, message):
    (tmp_path / name).write_bytes(content)
    fails(
        ["sweep", "--samples", tmp_path / name, "--dataset", "synthetic", "-o", tmp_path / "sweep"],
        capsys,
        f"{tmp_path / name}: {message}",
    )
    assert listing(tmp_path) == {name}


# ------------------------------------------------------------------------------------ outputs
@pytest.mark.parametrize(
    "output, message",
    [
        ("/proc/x.jsonl", "cannot create files in /proc"),  # no one may create files there, not even root
        ("{tmp}/f.txt/x.jsonl", "{tmp}/f.txt is a file, not a folder"),
        ("{tmp}/folder.jsonl", "{tmp}/folder.jsonl is a folder; give a file name"),
    ],
)
def test_an_unwritable_samples_output_is_named_not_its_temporary_file(tmp_path, capsys, output, message):
    (tmp_path / "f.txt").write_text("")
    (tmp_path / "folder.jsonl").mkdir()
    output, message = output.format(tmp=tmp_path), message.format(tmp=tmp_path)
    line = fails(["sample", "--space", "regnetx", "--n", 2, "-o", output], capsys, output, message)
    assert ".tmp" not in line
    assert listing(tmp_path) == {"f.txt", "folder.jsonl"}


def test_an_unwritable_report_is_refused_before_the_sweeps_are_read(capsys, samples_dir):
    # the sweep is not a results table either: the output is checked first, before any work
    fails(["report", samples_dir, "-o", "/proc/report.html"], capsys, "cannot write /proc/report.html")


@pytest.mark.parametrize("command", [["edf", "{dir}", "-o", "{out}.png"], ["results", "{dir}", "--csv", "{out}.csv"]])
def test_other_outputs_name_the_output(tmp_path, capsys, sweep_dir, command):
    out = tmp_path / "f.txt" / "out"
    (tmp_path / "f.txt").write_text("")
    before = listing(tmp_path)
    argv = [a.format(dir=sweep_dir, out=out) for a in command]
    line = fails(argv, capsys, f"cannot write {out}.", f"{tmp_path / 'f.txt'} is a file, not a folder")
    assert ".tmp" not in line and listing(tmp_path) == before


def test_check_writable_accepts_a_folder_still_to_be_created_and_writes_nothing(tmp_path):
    path = tmp_path / "new" / "deeper" / "report.html"
    assert check_writable(path) == path
    assert listing(tmp_path) == set()
    with pytest.raises(ValueError, match="cannot create files in /proc"):
        check_writable("/proc/new/report.html")


def test_a_failed_atomic_write_names_the_output_and_leaves_nothing(tmp_path):
    def write(tmp):
        raise OSError(f"no space left writing {tmp}")

    output = tmp_path / "x.json"
    with pytest.raises(OSError) as failure:
        atomic_write(output, write)
    assert str(failure.value) == f"cannot write {output}: no space left writing {output}"
    assert os.listdir(tmp_path) == []
