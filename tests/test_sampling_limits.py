"""Inputs that cannot succeed fail at once, with one line that says why: space files with
impossible ranges (at load), requests for more models than the draws or the space can give
(before any draw), data folders that do not exist (never swapped for the default). A long draw
reports its progress on stderr."""

import io
import re
import sys
import tomllib
import warnings

import numpy as np
import pytest

import designspace as ds
import designspace.data as data_module
import designspace.space as space_module
from designspace.space import SamplingError
from designspace.space_file import parse_space, shipped_spaces

WM = 'wm = { distribution = "log_uniform", low = 2.0, high = 3.0, step = 0.001 }'
REGNET = f"""
kind = "regnet"
[network]
resolution = 32
num_classes = 10
[parameters]
depth = {{ distribution = "uniform", low = 6, high = 16 }}
w0 = 16
wa = 20.0
{WM}
group_width = 8
"""


def regnet_file(tmp_path, old, new):
    assert old in REGNET
    path = tmp_path / "mine.toml"
    path.write_text(REGNET.replace(old, new))
    return path


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            WM,
            'wm = { distribution = "uniform", low = 0.5, high = 3.0, step = 0.5 }',
            r"parameters.wm: values must be numbers > 1, got 0.5, 1.0",
        ),
        (WM, "wm = 1.0", r"parameters.wm: values must be numbers > 1, got 1.0"),
        ("wa = 20.0", "wa = -4.0", r"parameters.wa: values must be numbers >= 0, got -4.0"),
        (
            "wa = 20.0",
            "wa = 1e20",
            r"parameters.wa: the widest network reaches w0 \+ wa \* \(depth - 1\) = 1.5e\+21 "
            r"channels; keep it below 2,147,483,648 \(lower wa, w0 or depth\)",
        ),
        ("w0 = 16", "w0 = 0", r"parameters.w0: values must be positive integers, got 0"),
        ("w0 = 16", "w0 = 12", r"parameters.w0: values must be multiples of network.quantum \(8\), got 12"),
        ("low = 6", "low = 0", r"parameters.depth: values must be positive integers, got 0"),
        ("group_width = 8", "group_width = 0", r"parameters.group_width: values must be positive integers, got 0"),
        ("[network]", "[network]\nquantum = 0", r"network.quantum: must be a positive integer, got 0"),
        ("[network]", "[network]\nstride = 0", r"network.stride: must be a positive integer, got 0"),
    ],
)
def test_an_impossible_regnet_range_is_refused_at_load_naming_file_key_and_range(tmp_path, old, new, message):
    path = regnet_file(tmp_path, old, new)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: {message}$"):
        ds.load_space(str(path))


def test_anynet_strides_must_be_positive_integers(tmp_path):
    path = tmp_path / "strides.toml"
    path.write_text(shipped_spaces()["anynetx_a"].read_text().replace("strides = [2,", "strides = [0,"))
    with pytest.raises(ValueError, match=r"network.strides: .*positive integer stage strides.*got \[0, 2, 2, 2\]$"):
        ds.load_space(str(path))


def test_valid_regnet_spaces_sample_without_numpy_warnings(tmp_path):
    """The default stage limit (64: w0 * wm^63 overflows int64), and the edges of the valid ranges:
    wa = 0 and wm just above 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.load_space("regnetx").sample(20, seed=0, flops=(360e6, 400e6))
        ds.load_space(str(regnet_file(tmp_path, "wa = 20.0", "wa = 0.0"))).sample(5, seed=0)  # one stage each
        with pytest.raises(SamplingError, match="no draw gave a valid network"):  # thousands of levels each
            ds.load_space(str(regnet_file(tmp_path, WM, "wm = 1.001"))).sample(1, seed=0, max_draws=10_000)


def test_more_models_than_draws_fail_at_once():
    space = ds.load_space("regnetx")
    with pytest.raises(
        SamplingError,
        match=r"^space regnetx: 1,000,000,000 models need at least 1,000,000,000 "
        r"draws, more than the 2,000,000 allowed; lower --n "
        r"\(or raise --max-draws of `designspace sample`\)$",
    ):
        space.sample(1_000_000_000)
    with pytest.raises(SamplingError, match="more than the 10 allowed"):
        space.sample(11, max_draws=10)
    with pytest.raises(ValueError, match="max_draws must be a positive integer, got 0"):
        space.sample(1, max_draws=0)


def test_more_models_than_a_finite_space_holds_fail_at_once():
    space = ds.load_space("mobilenet_v1")
    assert space.max_networks == 31 * 4  # width multipliers 0.25..1 step 0.025, 4 resolutions
    with pytest.raises(
        SamplingError,
        match=r"^space mobilenet_v1 holds at most 124 distinct networks, fewer than "
        r"the 200 asked for; lower --n to at most 124$",
    ):
        space.sample(200)


def test_max_networks_counts_shared_increasing_and_free_stages():
    anynet = """
kind = "anynet"
[network]
block_type = "res_bottleneck_block"
strides = [1, 2, 2]
resolution = 16
num_classes = 4
[parameters]
depth = { values = [1, 2] }
width = { values = [8, 16, 32, 64] }
bottleneck_ratio = { values = [1.0, 2.0] }
group_width = 1
activation = { values = ["relu", "silu"] }
[constraints]
shared = ["bottleneck_ratio"]
increasing = ["width"]
"""
    space = parse_space(tomllib.loads(anynet))
    # depth free: 2^3; width non-decreasing: C(4 + 3 - 1, 3) = 20; b shared: 2; g fixed; activation: 2
    assert space.max_networks == 8 * 20 * 2 * 2
    draws = space.sample(space.max_networks, seed=0, max_draws=200_000, progress=False)
    assert len(draws) == space.max_networks  # every draw builds its own network here: the bound is reached


def test_a_long_draw_prints_plain_progress_lines_off_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(space_module, "PROGRESS_EVERY", 0.0)
    with pytest.raises(SamplingError):
        ds.load_space("anynetx_a").sample(3, seed=0, flops=(1, 2), max_draws=50_000)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("sampling anynetx_a: 0 of 3 models after 4,096 draws, ")
    assert lines[-1].startswith("sampling anynetx_a: 0 of 3 models after 50,000 draws, ")


def test_progress_is_silent_when_off_and_for_a_quick_draw(monkeypatch, capsys):
    ds.load_space("anynetx_a").sample(3, seed=0)  # well under PROGRESS_EVERY
    monkeypatch.setattr(space_module, "PROGRESS_EVERY", 0.0)
    ds.load_space("anynetx_a").sample(3, seed=0, flops=(200e6, 400e6), progress=False)
    assert capsys.readouterr().err == ""


def test_a_long_draw_shows_a_bar_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(space_module, "PROGRESS_AFTER", 0.0)
    records = ds.load_space("regnetx").sample(100, seed=0, flops=(360e6, 400e6))
    assert "sampling regnetx: 100%" in terminal.getvalue() and f"{records.draws:,} draws" in terminal.getvalue()
    assert "models after" not in terminal.getvalue()  # no plain lines on a terminal


# ------------------------------------------------------------------ data folders that were asked for
def write_fashion_mnist(folder):
    """The four IDX files, tiny: what fashion_mnist() reads."""
    folder.mkdir()
    for stem, n in (("train", 4), ("t10k", 2)):
        for kind, shape in (("images-idx3", (n, 28, 28)), ("labels-idx1", (n,))):
            header = bytes([0, 0, 0x08, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
            (folder / f"{stem}-{kind}-ubyte").write_bytes(header + bytes(int(np.prod(shape))))
    return folder


@pytest.mark.parametrize("origin, shown", [("--data-dir", " (from --data-dir)"), (None, "")])
def test_a_missing_data_folder_is_an_error_naming_it_and_where_it_came_from(tmp_path, monkeypatch, origin, shown):
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST", write_fashion_mnist(tmp_path / "debian"))
    missing = tmp_path / "nowhere"
    for name in ("fashion-mnist", "cifar10", "imagefolder"):
        with pytest.raises(
            ValueError,
            match=rf"^data folder {re.escape(str(missing))}{re.escape(shown)} does not "
            rf"exist; give the folder that holds the {name} files$",
        ):
            data_module.load_dataset(name, missing, origin=origin)


def test_a_missing_folder_in_the_environment_is_an_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST", write_fashion_mnist(tmp_path / "debian"))
    monkeypatch.setenv("DESIGNSPACE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"nowhere \(from DESIGNSPACE_DATA\) does not exist"):
        data_module.load_dataset("fashion-mnist")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"file \(from --data-dir\) is not a folder"):
        data_module.load_dataset("fashion-mnist", tmp_path / "file", origin="--data-dir")


def test_a_data_folder_without_the_files_is_not_swapped_for_the_default_one(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST", write_fashion_mnist(tmp_path / "debian"))
    assert len(data_module.load_dataset("fashion-mnist").train_labels) == 4  # the default folder works
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=rf"^Fashion-MNIST not found in {re.escape(str(tmp_path / 'empty'))}: "):
        data_module.load_dataset("fashion-mnist", tmp_path / "empty")
