"""``firerisk app`` and ``firerisk sample`` before any server starts: what is served, from
where, with which options, and the refusals (each naming the file and the fix, exit 2).

The app itself, installed from the wheel and driven in Chromium, is in tests/test_install.py.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from firerisk import paths
from firerisk.errors import ResultsFileError
from firerisk.serve import MAIN_SCRIPT, STREAMLIT_OPTIONS, plan_app, write_main_script
from tests.conftest import firerisk_command

ROOT = Path(__file__).resolve().parent.parent


def test_the_checkout_config_and_the_installed_app_use_the_same_options() -> None:
    # `streamlit run app.py` reads .streamlit/config.toml; `firerisk app` passes flags.
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    flat = {f"{section}.{key}": value for section, items in config.items()
            for key, value in items.items()}
    assert flat == STREAMLIT_OPTIONS


def test_cache_folder_is_the_environment_variable_or_the_per_user_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "c"))
    assert paths.cache_dir() == (tmp_path / "c").resolve()
    assert paths.sample_results() == (tmp_path / "c").resolve() / "results" / "london.gpkg"
    monkeypatch.delenv(paths.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == (tmp_path / "xdg" / "firerisk").resolve()
    # The sample ships with the package: every file its profile names is there.
    profile = paths.sample_profile().read_text(encoding="utf-8")
    for name in paths.SAMPLE_FILES:
        assert (paths.sample_dir() / name).is_file(), name
        assert name in profile or name in ("london.toml", "README.md"), name


def test_plan_serves_loopback_by_default_and_the_network_only_for_public(
        tmp_path: Path, sample_results: Path) -> None:
    plan = plan_app(results=None, port=8600, public=False, cache_dir=tmp_path)
    assert (plan.address, plan.port, plan.results) == ("127.0.0.1", 8600, None)
    env = plan.environment({})
    assert env["FIRERISK_RESULTS"] == str(tmp_path.resolve() / "results" / "london.gpkg")
    assert env["FIRERISK_PROFILE"] == str(paths.sample_profile())
    assert env["MPLCONFIGDIR"].startswith(str(tmp_path.resolve()))
    assert plan.environment({"MPLCONFIGDIR": "/elsewhere"}).get("MPLCONFIGDIR") is None
    flags = plan.flags()
    assert flags[flags.index("--server.address") + 1] == "127.0.0.1"
    assert flags[flags.index("--client.disableDataExport") + 1] == "true"
    given = plan_app(results=sample_results, port=1, public=False, cache_dir=tmp_path)
    assert given.environment({})["FIRERISK_RESULTS"] == str(sample_results.resolve())
    assert "FIRERISK_PROFILE" not in given.environment({})
    public = plan_app(results=None, port=1, public=True, cache_dir=tmp_path)
    assert public.address == "0.0.0.0"
    assert public.environment({})["FIRERISK_RESULTS"].endswith("london-public.gpkg")


def test_public_server_refuses_internal_results_and_missing_files(
        tmp_path: Path, sample_results: Path) -> None:
    with pytest.raises(ResultsFileError, match="--mode public") as err:
        plan_app(results=sample_results, port=1, public=True, cache_dir=tmp_path)
    assert str(sample_results.resolve()) in str(err.value)
    with pytest.raises(ResultsFileError, match="does not exist"):
        plan_app(results=tmp_path / "nope.gpkg", port=1, public=False, cache_dir=tmp_path)
    proc = subprocess.run([firerisk_command(), "app", "--public", "--results",
                           str(sample_results), "--cache-dir", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "holds internal output" in proc.stderr
    assert not (tmp_path / "c").exists()  # refused before writing anything


def test_main_script_is_written_once_and_imports_only_the_package(tmp_path: Path) -> None:
    target = write_main_script(tmp_path / "cache")
    assert target.read_text(encoding="utf-8") == MAIN_SCRIPT
    assert "from firerisk.ui.app import main" in MAIN_SCRIPT
    before = target.stat().st_mtime_ns
    assert write_main_script(tmp_path / "cache") == target
    assert target.stat().st_mtime_ns == before
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["app.py"]


def test_sample_command_copies_the_sample_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    proc = subprocess.run([firerisk_command(), "sample", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for name in paths.SAMPLE_FILES:
        assert (out / name).read_bytes() == (paths.sample_dir() / name).read_bytes(), name
    again = subprocess.run([firerisk_command(), "sample", "--out", str(out)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 2
    assert "never overwrites" in again.stderr
