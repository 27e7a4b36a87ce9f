"""A training job's progress: off a terminal (a log file) plain lines within each epoch, so that a
long epoch does not look like a hang; on a terminal only the per-epoch line, as before."""

import io
import re
import sys

import pytest

import designspace as ds
import designspace.train as train_module
from designspace.data import synthetic
from designspace.train import Engine, Recipe, train

TINY = ds.ModelSpec(
    stem_type="res_stem_cifar",
    stem_width=8,
    block_type="res_basic_block",
    depths=[1],
    widths=[8],
    strides=[1],
    bottleneck_ratios=[1.0],
    group_widths=[8],
    num_classes=4,
    in_channels=3,
    resolution=8,
)
DATA = synthetic(seed=0, resolution=8, train=40, test=16)  # 40 images in batches of 16: 3 batches, the last of 8
RECIPE = Recipe(epochs=2, batch_size=16)
BATCH_LINE = re.compile(r"^epoch (\d)/2  batch (\d)/3  [\d,]+ img/s  \d+ s elapsed$")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_a_terminal_each_interval_prints_a_plain_batch_line(monkeypatch, capsys):
    monkeypatch.setattr(train_module, "PROGRESS_EVERY", 0.0)  # a line after every batch
    record = train(TINY, DATA, RECIPE, Engine(device="cpu", threads=1), progress=True)
    assert record["status"] == "ok", record
    lines = capsys.readouterr().err.splitlines()
    batches = [BATCH_LINE.match(line).groups() for line in lines if BATCH_LINE.match(line)]
    assert batches == [(str(e), str(b)) for e in (1, 2) for b in (1, 2, 3)]
    assert sum(line.startswith("epoch ") and "test error" in line for line in lines) == 2  # the epoch lines stay


@pytest.mark.parametrize(
    "stderr, progress", [(Terminal(), True), (io.StringIO(), False)], ids=["terminal", "progress off"]
)
def test_a_terminal_or_progress_off_gets_no_batch_lines(monkeypatch, stderr, progress):
    monkeypatch.setattr(train_module, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(sys, "stderr", stderr)
    train(TINY, DATA, RECIPE, Engine(device="cpu", threads=1), progress=progress)
    lines = stderr.getvalue().splitlines()
    assert not any(BATCH_LINE.match(line) for line in lines)
    assert len(lines) == (2 if progress else 0)
