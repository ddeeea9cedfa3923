"""Shared fixtures, and the rule that no test may skip silently in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROFILE = ROOT / "sample_data" / "london.toml"


@pytest.fixture(scope="session")
def sample_profile() -> Path:
    """The London sample dataset profile."""
    return SAMPLE_PROFILE


@pytest.fixture(scope="session")
def sample_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real London results GeoPackage, built once per session by ``firerisk build``.

    The build runs through the installed console script, exactly as a user runs it; its
    output is checked in tests/test_cli.py. ``FIRERISK_TEST_RESULTS`` may name a results
    file built earlier from the same profile, to save time while developing.
    """
    out = tmp_path_factory.mktemp("results") / "london.gpkg"
    cached = os.environ.get("FIRERISK_TEST_RESULTS")
    if cached and Path(cached).exists():
        shutil.copyfile(cached, out)
    else:
        proc = subprocess.run(
            [firerisk_command(), "build", "--config", str(SAMPLE_PROFILE), "--out", str(out)],
            capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, f"firerisk build failed:\n{proc.stdout}\n{proc.stderr}"
        (out.parent / "build.log").write_text(proc.stdout + proc.stderr)
    return out


def firerisk_command() -> str:
    """The installed ``firerisk`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("firerisk")
    assert script.exists(), f"{script} is missing: install the package with pip install -e ."
    return str(script)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a skipped test is a failure: every test must run on a clean machine."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not os.environ.get("CI"):
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; skips are not allowed in CI.",
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
