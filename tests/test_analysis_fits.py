"""Quantized-linear fits of the best models of a population."""

import pandas as pd
import pytest
from test_analysis_load import results_row, write_sweep

import designspace as ds
from designspace.analysis import fit_models, fit_population, fit_report, load
from designspace.analysis.spec_columns import block_widths

REGNET_200MF = dict(depth=13, w0=24, wa=36.44, wm=2.49, group_width=8)  # widths 24, 56, 152, 368 need no adjusting


def model(spec, name, sample=None):
    return {
        "id": name,
        "space": "test",
        "sample": sample or {},
        "spec": spec.to_dict(),
        "complexity": ds.complexity(spec),
    }


def write_table(directory, models_and_errors, statuses=None):
    rows = [
        results_row(m, e, index=i, status=(statuses or {}).get(i, "ok")) for i, (m, e) in enumerate(models_and_errors)
    ]
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(directory / "results.parquet", index=False)
    return directory


def anynet(widths, depths, name):
    spec = ds.ModelSpec(
        stem_type="res_stem_cifar",
        stem_width=16,
        block_type="res_bottleneck_block",
        depths=depths,
        widths=widths,
        strides=[1, 2, 2, 2],
        bottleneck_ratios=[1.0] * 4,
        group_widths=[8] * 4,
        num_classes=10,
        in_channels=1,
        resolution=28,
    )
    return model(spec, name, {"depth": depths, "width": widths})


def test_a_real_regnet_fits_exactly(tmp_path):
    spec = ds.regnet.make_spec(**REGNET_200MF)
    frame = load(write_table(tmp_path / "one", [(model(spec, "regnet200"), 9.5)])).usable()
    fits = fit_models(frame)
    row = fits.iloc[0]
    assert row["id"] == "regnet200" and row["error"] == 9.5 and row["depth"] == 13 and row["w0"] == 24
    assert row["e_fit"] == 0.0 and row["fitted"] == row["observed"] == block_widths(spec.to_dict())
    assert ds.regnet.generate(row["w0"], row["wa"], row["wm"], 13)["block_widths"] == row["observed"]


def test_fits_are_sorted_by_error_and_the_population_sample_is_seeded(tmp_path):
    write_sweep(tmp_path / "e", space="anynetx_e", n=40)
    frame = load(tmp_path / "e").usable()
    fits = fit_population(frame, top=5, sample=10, seed=0)
    assert fits["group"].tolist() == ["best"] * 5 + ["random"] * 10
    best = frame.nsmallest(5, "best_error", keep="first")
    assert fits["id"].iloc[:5].tolist() == best["id"].tolist()
    assert fits["error"].iloc[:5].is_monotonic_increasing
    assert set(fits["id"].iloc[5:]).isdisjoint(best["id"])
    again = fit_population(frame, top=5, sample=10, seed=0)
    assert again["id"].tolist() == fits["id"].tolist()
    assert fit_population(frame, top=5, sample=10, seed=1)["id"].tolist() != fits["id"].tolist()
    assert len(fit_population(frame, top=5, sample=None)) == 40
    for row in fits.itertuples():
        result = ds.regnet.fit(row.observed)
        assert row.e_fit == result["e_fit"] and row.fitted == result["block_widths"]


def test_fit_report_text(tmp_path):
    regnet = ds.regnet.make_spec(
        **REGNET_200MF, stem_type="res_stem_cifar", num_classes=10, in_channels=1, resolution=28
    )
    models = [
        (model(regnet, "exact"), 8.0),
        (anynet([16, 32, 64, 128], [1, 2, 3, 4], "stairs"), 9.0),
        (anynet([128, 64, 32, 16], [2, 2, 2, 2], "falling"), 12.5),
        (anynet([16] * 4, [1] * 4, "gone"), 7.0),
    ]
    directory = write_table(tmp_path / "mixed", models, statuses={3: "failed"})
    text = fit_report(directory, top=2)
    lines = text.splitlines()
    assert lines[0] == (
        "mixed: quantized-linear fits of the 2 best of 3 models by best_error (1 failed model excluded)"
    )
    assert lines[2].split()[:4] == ["1", "exact", "8.00", "13"] and lines[2].split()[-5:-4] == ["0.0000"]
    assert lines[2].endswith("24x1 56x1 152x4 368x7")
    assert lines[3].split()[:4] == ["2", "stairs", "9.00", "10"] and lines[3].endswith("16x1 32x2 64x3 128x4")
    assert len(lines) == 5 and lines[4].startswith("mean e_fit of these models")


def test_fit_report_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no such file or directory"):
        fit_report(tmp_path / "missing")
    diverged = write_table(
        tmp_path / "diverged",
        [(anynet([16] * 4, [1] * 4, "a"), 7.0), (anynet([32] * 4, [1] * 4, "b"), 8.0)],
        statuses={0: "diverged", 1: "diverged"},
    )
    with pytest.raises(ValueError, match=r"^diverged: no model to fit \(2 diverged models excluded\)$"):
        fit_report(diverged)
