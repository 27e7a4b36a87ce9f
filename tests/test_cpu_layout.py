"""The CPU layout of sweeps: candidates, a real probe on this machine, the per-machine cache, overrides."""

import json
import time

import pytest

from designspace import cpu_layout
from designspace.cpu_layout import Layout, fastest_layout, layouts, machine_key, trustworthy
from designspace.cpus import available_cpus
from designspace.sweep import choose_layout


class Measured(Exception):
    """Raised by a measure() that must not be called."""


def no_measuring(layout, steps=None):
    raise Measured(str(layout))


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """One real probe (2 steps per job) into an empty cache where $XDG_CACHE_HOME would put it:
    (cache file, choice)."""
    cache = tmp_path_factory.mktemp("xdg") / "designspace" / "cpu_layout.json"
    return cache, fastest_layout(steps=2, cache=cache)


@pytest.mark.parametrize(
    "cpus, expected",
    [
        (1, ["1x1"]),
        (2, ["2x1", "1x2"]),
        (6, ["6x1", "3x2", "1x4", "1x6"]),
        (16, ["16x1", "8x2", "4x4", "2x8", "1x16"]),
    ],
)
def test_candidates_use_at_most_the_cpus_most_jobs_first(cpus, expected):
    assert [str(layout) for layout in layouts(cpus)] == expected
    assert all(layout.jobs * layout.threads <= cpus for layout in layouts(cpus))


def test_the_probe_returns_a_valid_layout_for_this_machine(probed):
    cache, choice = probed
    candidates = layouts(available_cpus())
    assert choice.layout in candidates and not choice.cached
    assert set(choice.images_per_second) == {str(layout) for layout in candidates}
    assert all(speed > 0 for speed in choice.images_per_second.values())
    fastest = max(choice.images_per_second.values())
    assert choice.images_per_second[str(choice.layout)] >= (1 - cpu_layout.MARGIN) * fastest
    # no layout with more jobs came within the margin of the fastest
    for layout in candidates[: candidates.index(choice.layout)]:
        assert choice.images_per_second[str(layout)] < (1 - cpu_layout.MARGIN) * fastest


def test_a_second_call_on_the_same_machine_is_a_cache_hit(probed, monkeypatch):
    cache, choice = probed
    assert machine_key(available_cpus()) in json.loads(cache.read_text())
    monkeypatch.setattr(cpu_layout, "measure", no_measuring)
    again = fastest_layout(cache=cache)
    assert again.cached and (again.layout, again.images_per_second) == (choice.layout, choice.images_per_second)


def test_another_machine_or_a_broken_file_is_a_cache_miss(probed, monkeypatch, tmp_path):
    cache, _ = probed
    entries = json.loads(cache.read_text())
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps({key.replace(f"| {available_cpus()} CPUs", "| 999 CPUs"): entry for key, entry in entries.items()})
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setattr(cpu_layout, "measure", no_measuring)
    for path in (other, broken):
        with pytest.raises(Measured):
            fastest_layout(cache=path)


def test_an_old_or_implausible_measurement_is_taken_again(monkeypatch, tmp_path):
    measured = "2026-01-01T00:00:00"
    now = time.mktime(time.strptime(measured, cpu_layout.TIME_FORMAT))
    calm = {"jobs": 2, "threads": 1, "images_per_second": {"2x1": 353.0, "1x2": 177.0}, "measured": measured}
    assert trustworthy(calm, 2, now=now + 86400)
    assert not trustworthy(calm, 2, now=now + (cpu_layout.MAX_AGE_DAYS + 1) * 86400)
    # a probe beside a busy process once cached this: 1 job x 2 threads at 27 img/s against 353
    busy = {**calm, "images_per_second": {"2x1": 353.0, "1x2": 27.0}}
    assert trustworthy(busy, 2, now=now + 60)  # a machine that stays busy is not probed before every sweep
    assert not trustworthy(busy, 2, now=now + cpu_layout.RETRY_IMPLAUSIBLE + 1)
    assert not trustworthy({k: v for k, v in busy.items() if k != "measured"}, 2)  # undated: no grace
    stale = tmp_path / "busy.json"
    stale.write_text(json.dumps({machine_key(available_cpus()): busy}))
    monkeypatch.setattr(cpu_layout, "measure", no_measuring)
    with pytest.raises(Measured):
        fastest_layout(cache=stale)


def test_one_cpu_needs_no_probe(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_layout, "measure", no_measuring)
    choice = fastest_layout(cpus=1, cache=tmp_path / "c.json")
    assert choice.layout == Layout(1, 1) and choice.images_per_second == {}


def test_an_explicit_cpus_per_trial_overrides_the_layout_without_probing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cpu_layout, "measure", no_measuring)
    assert choose_layout(2, 0) == {"cpus_per_trial": 2, "why": "2 CPUs per model (--cpus-per-trial)"}
    assert choose_layout(None, 0.25)["cpus_per_trial"] == 1  # GPU trials take one CPU each
    assert not any(tmp_path.iterdir())


def test_a_sweep_defaults_to_this_machines_cached_layout(probed, monkeypatch):
    cache, choice = probed
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache.parent.parent))
    monkeypatch.setattr(cpu_layout, "measure", no_measuring)
    layout = choose_layout(None, 0)
    assert layout["cpus_per_trial"] == choice.layout.threads
    assert (layout["jobs"], layout["threads"]) == (choice.layout.jobs, choice.layout.threads)
    assert "cached in" in layout["why"] and choice.layout.describe() in layout["why"]
