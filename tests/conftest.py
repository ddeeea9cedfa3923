"""Shared fixtures, and the rule that no test may skip silently in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROFILE = ROOT / "sample_data" / "london.toml"


@pytest.fixture(scope="session")
def sample_profile() -> Path:
    """The London sample dataset profile."""
    return SAMPLE_PROFILE


@pytest.fixture(scope="session")
def sample_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real London results GeoPackage, built once per test session by the pipeline."""
    from firerisk.pipeline import build

    out = tmp_path_factory.mktemp("results") / "london.gpkg"
    cached = os.environ.get("FIRERISK_TEST_RESULTS")
    if cached and Path(cached).exists():
        shutil.copyfile(cached, out)
    else:
        build(SAMPLE_PROFILE, out, evaluate=True, bootstrap=100)
    yield out


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
