"""The zoo: every named network counts what its source publishes; names, overrides and the CLI."""

import json
import subprocess
import sys
import tomllib
from importlib import resources

import pytest
from cli_errors import fails
from pycls_zoo import REGNETS

import designspace as ds

DESIGNSPACE = [sys.executable, "-m", "designspace"]
REQUIRED = [
    "resnet50_a",
    "resnet50_b",
    "resnet50_c",
    "resnet50_d",
    "resnext50_32x4d",
    "densenet121",
    "densenet169",
    "mobilenet_v1",
    "se_resnext50_32x4d",
    "mobilenet_v2",
    "preact_resnet50",
    "squeezenet1_0",
    "squeezenet1_1",
]
ENTRY_KEYS = {"regnet", "extends", "spec", "published", "source", "note"}


def run(*args, cwd=None):
    result = subprocess.run([*DESIGNSPACE, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("name", ds.zoo.names())
def test_every_network_counts_what_its_source_publishes(name):
    """params to the unit for every entry; flops and acts where pycls, which counts as designspace
    does, published them."""
    published = ds.zoo.entry(name)["published"]
    assert "params" in published and set(published) <= {"params", "flops", "acts"}
    counted = ds.complexity(ds.zoo.spec(name))
    assert {metric: counted[metric] for metric in published} == published


def test_the_entries_are_well_formed_data():
    entries = tomllib.loads(resources.files("designspace").joinpath("zoo.toml").read_text())  # shipped as package data
    for name, data in entries.items():
        assert set(data) <= ENTRY_KEYS, name
        assert ("regnet" in data) + ("extends" in data) <= 1 and (
            "regnet" in data or "extends" in data or "spec" in data
        ), name
        assert data.get("extends", name) in entries and data["source"], name
        assert name == name.lower() and "-" not in name and "." not in name, name


@pytest.mark.parametrize("row", REGNETS, ids=[row[0] for row in REGNETS])
def test_the_regnets_are_pycls_models_by_their_pycls_names(row):
    """Checked against the transcription of pycls's zoo that test_regnet.py uses."""
    name, depth, w0, wa, wm, group_w, se_on, depths, widths, group_widths, flops, params, acts = row
    spec = ds.zoo.spec(name)  # pycls's own spelling finds it
    assert ds.zoo.entry(name)["name"] == name.lower().replace("-", "_").replace(".", "_")
    assert spec == ds.regnet.make_spec(depth, w0, wa, wm, group_w, se_ratio=0.25 if se_on else 0.0)
    assert (list(spec.depths), list(spec.widths), list(spec.group_widths)) == (depths, widths, group_widths)
    assert ds.zoo.entry(name)["published"] == {"flops": flops, "params": params, "acts": acts}


def test_the_zoo_holds_the_named_networks():
    names = ds.zoo.names()
    assert len(names) == len(set(names)) == 41
    assert sum(name.startswith("regnet") for name in names) == 24 and set(REQUIRED) <= set(names)
    assert ds.zoo.spec("ResNeXt50-32x4d") == ds.zoo.spec("resnext50_32x4d")


def test_overrides_replace_modelspec_fields():
    small = ds.zoo.spec("densenet121", resolution=97, num_classes=10)
    assert (small.resolution, small.num_classes) == (97, 10)
    assert small.replace(resolution=224, num_classes=1000) == ds.zoo.spec("densenet121")
    regnet = ds.zoo.spec("regnetx_400mf", num_classes=10)
    head = ds.complexity(ds.zoo.spec("regnetx_400mf"))["params"] - ds.complexity(regnet)["params"]
    assert head == 990 * (384 + 1)  # 990 fewer classes on the 384-wide head
    assert ds.zoo.spec("mobilenet_v1", resolution=160).depths == ds.zoo.spec("mobilenet_v1").depths
    with pytest.raises(ValueError, match=r"ModelSpec: unknown key\(s\) resolutoin"):
        ds.zoo.spec("densenet121", resolutoin=97)
    with pytest.raises(ValueError, match=r"ModelSpec\.stem_width: a deep stem"):
        ds.zoo.spec("resnet50_d", stem_width=1)


@pytest.mark.parametrize(
    "name, message",
    [
        ("resnet50", "no network 'resnet50' in the zoo; did you mean resnet50_b, resnet50_c or resnet50_d?"),
        ("regnetx_1.6", "did you mean regnetx_1_6gf"),
        ("alexnet", "no network 'alexnet' in the zoo; designspace.zoo.names() and `designspace zoo` list them"),
    ],
)
def test_an_unknown_name_is_one_line_with_the_closest_names(name, message):
    for lookup in (ds.zoo.spec, ds.zoo.entry):
        with pytest.raises(ValueError) as error:
            lookup(name)
        assert message in str(error.value) and "\n" not in str(error.value)


def test_the_zoo_loads_on_first_use():
    code = "import sys, designspace as ds; assert 'designspace.zoo' not in sys.modules; print(len(ds.zoo.names()))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "41\n"


def test_zoo_command_lists_counted_and_published_sizes():
    lines = run("zoo").stdout.splitlines()
    assert len(lines) == 1 + 41 and lines[0].split()[:3] == ["network", "designspace", "params"]
    assert lines[2].split() == ["regnetx_400mf", "5,157,512", "5,157,512", "397,678,568", "397,678,568"]
    assert next(line for line in lines if line.startswith("densenet121")).split()[-1] == "-"  # no flops published
    rows = [json.loads(line) for line in run("zoo", "--json").stdout.splitlines()]
    assert [row["name"] for row in rows] == ds.zoo.names()
    assert all(row["designspace"][m] == v for row in rows for m, v in row["published"].items())
    assert all(row["source"] for row in rows) and "ReLU6" in rows[ds.zoo.names().index("mobilenet_v1")]["note"]


def test_complexity_takes_a_zoo_name_and_a_file_of_that_name_first(tmp_path):
    assert json.loads(run("complexity", "RegNetY-400MF", "--json").stdout) == ds.zoo.entry("regnety_400mf")["published"]
    (tmp_path / "densenet121").write_text(ds.zoo.spec("mobilenet_v1").to_json())
    counted = json.loads(run("complexity", "densenet121", "--json", cwd=tmp_path).stdout)
    assert counted == ds.complexity(ds.zoo.spec("mobilenet_v1"))


def test_train_adapts_a_zoo_network_to_the_data():
    result = run(
        "train",
        "--model",
        "mobilenet_v1_0_25",
        "--activation",
        "silu",
        "--dataset",
        "synthetic",
        "--train-subset",
        64,
        "--test-subset",
        32,
        "--epochs",
        1,
        "--threads",
        1,
        "--json",
    )
    assert (
        "model mobilenet_v1_0_25 from the zoo (resolution 224 -> 16, num_classes 1000 -> 4, activation relu -> silu): "
    ) in result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "ok"
    assert record["spec"] == ds.zoo.spec("mobilenet_v1_0_25", resolution=16, num_classes=4, activation="silu").to_dict()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["complexity", "resnet50"],
            "resnet50: no such file, and no network 'resnet50' in the zoo; did you mean resnet50_b, resnet50_c or "
            "resnet50_d?",
        ),
        (["complexity", "missing.yaml"], "missing.yaml: no such file"),  # a file's name: no zoo in the message
        (
            ["train", "--model", "densenet", "--dataset", "synthetic"],
            "no network 'densenet' in the zoo; did you mean densenet121 or densenet169?",
        ),
        (
            ["train", "--model", "densenet121", "--space", "regnetx", "--flops", ":1G", "--dataset", "synthetic"],
            "--model densenet121 names the model; drop --space, --flops",
        ),
        (
            ["train", "--model", "resnet50_c", "--stem-width", 1, "--dataset", "synthetic"],
            "ModelSpec.stem_width: a deep stem halves it for its first two convs; got 1",
        ),
    ],
)
def test_bad_names_and_combinations_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fails(args, capsys) == f"designspace: error: {message}"
