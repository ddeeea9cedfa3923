"""The ``firerisk`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyogrio
import pytest

from tests.conftest import SAMPLE_PROFILE, firerisk_command

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float = 600, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([firerisk_command(), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd)


def test_build_writes_the_documented_layers(sample_results: Path) -> None:
    layers = {str(name): geom for name, geom in pyogrio.list_layers(sample_results)}
    for name in ("areas", "targets", "run", "provenance", "band_breaks", "evaluation",
                 "evaluation_curve", "coefficients"):
        assert name in layers, f"missing layer {name}: {sorted(layers)}"
    assert layers["areas"] in ("MultiPolygon", "Polygon")
    for name in ("targets", "run", "provenance"):
        assert layers[name] is None, f"{name} must be a plain table"
    info = pyogrio.read_info(sample_results, layer="areas")
    assert info["features"] == 4994
    assert info["crs"] == "EPSG:27700"


def test_row_accounting_adds_up_to_the_input_rows(sample_results: Path) -> None:
    import gzip

    run = pyogrio.read_dataframe(sample_results, layer="run", read_geometry=False)
    accounting = json.loads(run.loc[(run.section == "accounting") & (run.key == "rows_read"),
                                    "value"].item())
    used = json.loads(run.loc[(run.section == "accounting") & (run.key == "rows_used"),
                              "value"].item())
    dropped = json.loads(run.loc[(run.section == "accounting") & (run.key == "dropped"),
                                 "value"].item())
    # Independent truth: count the data lines of the incident file ourselves.
    with gzip.open(ROOT / "sample_data" / "lfb_dwelling_fires_2009_2024.csv.gz", "rt") as fh:
        lines = sum(1 for _ in fh) - 1
    assert accounting == lines == 90146
    assert used + sum(dropped.values()) == lines
    assert set(dropped) == {"missing coordinates", "bad date", "outside the study period",
                            "outside every area", "excluded by filter", "duplicate"}


def test_targets_are_ranked_and_hold_no_incident_rows(sample_results: Path) -> None:
    targets = pyogrio.read_dataframe(sample_results, layer="targets", read_geometry=False)
    assert list(targets["rank"]) == list(range(1, len(targets) + 1))
    assert targets["risk_per_1000"].is_monotonic_decreasing
    assert len(targets) == 4994
    for banned in ("easting_rounded", "northing_rounded", "x", "y", "date", "property_type"):
        assert banned not in targets.columns


def test_bad_profile_exits_2_with_a_plain_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[areas]\npath = "nowhere.geojson"\n')
    proc = _run("build", "--config", str(bad), "--out", str(tmp_path / "o.gpkg"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "nowhere.geojson" in proc.stderr
    assert "[incidents]" in proc.stderr  # the missing table is named, with the fix
    debug = _run("--debug", "build", "--config", str(bad), "--out", str(tmp_path / "o.gpkg"))
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr


def test_check_reports_the_inputs_without_building(tmp_path: Path) -> None:
    import gzip

    import pandas as pd

    before = sorted((p, p.stat().st_mtime_ns) for p in (ROOT / "sample_data").rglob("*"))
    proc = _run("--quiet", "check", "--config", str(SAMPLE_PROFILE), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # Independent truth from the files themselves.
    with gzip.open(ROOT / "sample_data" / "lfb_dwelling_fires_2009_2024.csv.gz", "rt") as fh:
        lines = sum(1 for _ in fh) - 1
    areas = pyogrio.read_info(ROOT / "sample_data" / "london_lsoa21.geojson")["features"]
    boroughs = pyogrio.read_dataframe(ROOT / "sample_data" / "london_lsoa21.geojson",
                                      columns=["ltla24_name"], read_geometry=False)
    imd = pd.read_csv(ROOT / "sample_data" / "imd2025_london.csv")
    assert doc["incidents"]["rows_read"] == lines
    assert doc["incidents"]["rows_used"] + sum(doc["incidents"]["dropped"].values()) == lines
    assert doc["areas"] == areas
    assert doc["groups"] == {"borough": boroughs["ltla24_name"].nunique()}
    assert doc["full_years"] == list(range(2009, 2024))
    assert [p.split(" ")[0] for p in doc["partial_years"]] == ["2024"]
    imd_feature = next(f for f in doc["features"] if f["name"] == "imd_score")
    assert imd_feature["max"] == pytest.approx(imd["IMD_score"].max())
    assert imd_feature["median"] == pytest.approx(imd["IMD_score"].median())
    # nothing written, neither where it ran nor beside the inputs
    assert not list(tmp_path.iterdir())
    assert sorted((p, p.stat().st_mtime_ns) for p in (ROOT / "sample_data").rglob("*")) == before
    plain = _run("--quiet", "check", "--config", str(SAMPLE_PROFILE))
    assert plain.returncode == 0
    assert f"{lines:,} rows read" in plain.stdout
    assert "Ready to build" in plain.stdout


def test_check_lists_every_profile_problem_and_exits_2(tmp_path: Path) -> None:
    text = SAMPLE_PROFILE.read_text(encoding="utf-8").replace(
        'path = "london_lsoa21.geojson"', f'path = "{ROOT / "sample_data" / "london_lsoa21.geojson"}"')
    text = text.replace("[exposure]", "[exposure]\nlable = \"homes\"")
    text = text.replace("history = true", "history = \"no\"")
    bad = tmp_path / "typo.toml"
    bad.write_text(text, encoding="utf-8")
    proc = _run("--quiet", "check", "--config", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    # the relative paths now point into tmp_path, so the missing files are listed too
    for expected in ("exposure.lable", "did you mean 'label'", "model.history",
                     "true or false", "imd2025_london.csv"):
        assert expected in proc.stderr, (expected, proc.stderr)


def test_missing_profile_file_is_named(tmp_path: Path) -> None:
    proc = _run("build", "--config", str(tmp_path / "absent.toml"), "--out", "x.gpkg")
    assert proc.returncode == 2
    assert "absent.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_evaluate_json_meets_the_backtest_target() -> None:
    proc = _run("--quiet", "evaluate", "--config", str(SAMPLE_PROFILE), "--json",
                "--bootstrap", "100")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    pooled = doc["pooled"]
    model = pooled["model"]
    baselines = pooled["baselines"]
    assert set(baselines) >= {"last_year", "history_5y", "eb_rate", "imd", "stable_rate"}
    assert len(doc["origins"]) == 9  # 2015..2023, full years only
    for entry in [model, *baselines.values()]:
        for k in (5, 10, 20):
            assert 0.0 <= entry[f"capture_{k}"] <= 1.0
    best = max(baselines[name]["capture_10"] for name in ("last_year", "history_5y", "eb_rate",
                                                          "imd"))
    # Issue 3's target: at least 3% (relative) above the best of the rules in use today.
    assert model["capture_10"] >= 1.03 * best, (model["capture_10"], best)


def test_evaluate_plain_output_is_a_table() -> None:
    proc = _run("--quiet", "evaluate", "--config", str(SAMPLE_PROFILE), "--bootstrap", "0",
                "--origins", "2022-2023")
    assert proc.returncode == 0, proc.stderr
    for name in ("Model", "Last year's count", "Count, previous years",
                 "Smoothed rate, previous years", "Deprivation (IMD) alone",
                 "Average of the other years' rates"):
        assert name in proc.stdout
    assert "Inside each borough (33;" in proc.stdout  # capture within each borough too
    assert "origins 2022-2023" in proc.stdout


def test_report_pdf_from_the_cli_carries_sources_and_mode(sample_results: Path,
                                                          tmp_path: Path) -> None:
    from pypdf import PdfReader

    from firerisk.geo.checksum import file_sha256

    out = tmp_path / "hackney.pdf"
    proc = _run("report", "--results", str(sample_results), "--out", str(out),
                "--group", "borough", "--value", "Hackney")
    assert proc.returncode == 0, proc.stderr
    text = "\n".join(page.extract_text() for page in PdfReader(out).pages)
    assert "Hackney" in text
    assert "Sources and provenance" in text
    assert "Output mode: internal" in text
    digest = file_sha256(ROOT / "sample_data" / "lfb_dwelling_fires_2009_2024.csv.gz")
    assert digest in text.replace("\n", "")
    assert f"Wrote {out}" in proc.stdout


def test_report_with_an_unknown_group_value_names_the_choices(sample_results: Path,
                                                              tmp_path: Path) -> None:
    proc = _run("report", "--results", str(sample_results), "--out", str(tmp_path / "x.pdf"),
                "--group", "borough", "--value", "Hackny")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "Hackney" in proc.stderr  # the close match is offered
    assert not (tmp_path / "x.pdf").exists()
