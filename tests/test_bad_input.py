"""Wrong input never builds a wrong answer: the generated corpus through the command line.

For every case of ``tests/corpus.py`` (made from the London sample, nothing broken is
committed), ``firerisk check`` and ``firerisk build`` are run the way a user runs them and
must agree: both exit 2 with the same single problem, naming the file, the column and
rows where they apply, and the fix; or both succeed, and then a harmless difference (BOM,
CRLF, gzip, quoting, a profile key that says how to read the file) gives exactly the
clean build's answer. The cases run in-process through ``firerisk.cli.main``; a
representative set also runs through the installed console script.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from firerisk.cli import main
from tests.conftest import firerisk_command
from tests.corpus import CASES, Case, make_case, write_subset

BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="session")
def clean_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "clean"
    write_subset(folder)
    return folder


def _cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _build_args(profile: Path, out: Path, *, evaluate: bool) -> list[str | Path]:
    return ["--quiet", "build", "--config", profile, "--out", out,
            *([] if evaluate else ["--no-evaluate"])]


@pytest.fixture(scope="session")
def clean_build(clean_subset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus_clean") / "clean.gpkg"
    code, _, err = _cli(*_build_args(clean_subset / "profile.toml", out, evaluate=False))
    assert code == 0, err
    assert "warning" not in err  # the clean subset itself builds without a word
    return out


def _layers(path: Path) -> dict[str, pd.DataFrame]:
    """The layers that hold the answer (not the run log or the provenance, which name the
    files and their checksums)."""
    out = {}
    for layer in ("areas", "targets", "band_breaks", "group_counts", "coefficients"):
        frame = pyogrio.read_dataframe(path, layer=layer)
        out[layer] = pd.DataFrame(frame)
    return out


def _error(stderr: str, command: str) -> str:
    prefix = f"firerisk {command}: error: "
    assert prefix in stderr, stderr
    return stderr.split(prefix, 1)[1].split("\n(run with --debug", 1)[0]


def _assert_refused(case: Case, message: str) -> None:
    assert "Traceback" not in message
    head, _, rest = message.partition("\n")
    assert head == f"{case.kind} (1 problem):", message
    problem = rest.strip()
    assert problem.startswith("1. "), message
    where, _, _ = problem.partition(": ")
    assert case.file in where, f"the problem must name {case.file}: {problem}"
    if case.column is not None:
        assert f"column '{case.column}'" in where, problem
    if case.rows:
        assert ", row" in where, f"the problem must name rows: {problem}"
    assert " Fix: " in problem, problem
    fix = problem.split(" Fix: ", 1)[1]
    for phrase in case.fix:
        assert phrase in fix, f"the fix must say {phrase!r}: {problem}"
    for phrase in case.tags:
        assert phrase in problem, f"the message must say {phrase!r}: {problem}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_and_build_agree_on_every_case(case: Case, clean_subset: Path, clean_build: Path,
                                             tmp_path: Path) -> None:
    profile = make_case(case, clean_subset, tmp_path / "case")
    out = tmp_path / "out.gpkg"
    check_code, check_out, check_err = _cli("--quiet", "check", "--config", profile)
    build_code, _, build_err = _cli(*_build_args(profile, out, evaluate=case.evaluate))
    if case.expect == "refuse":
        assert (check_code, build_code) == (2, 2), (check_out, check_err, build_err)
        message = _error(check_err, "check")
        assert _error(build_err, "build") == message  # the same problem, word for word
        _assert_refused(case, message)
        assert not out.exists()
        return
    assert (check_code, build_code) == (0, 0), (check_err, build_err)
    assert "Ready to build" in check_out
    if case.warning is not None:
        warned = [line for line in check_out.splitlines() if line.startswith("Warning: ")]
        assert any(case.warning in line for line in warned), check_out
        assert any(case.warning in line for line in build_err.splitlines()
                   if line.startswith("firerisk: warning: ")), build_err
    else:
        assert "Warning" not in check_out
        assert "warning" not in build_err
    if case.expect == "same":
        clean, got = _layers(clean_build), _layers(out)
        for layer, frame in clean.items():
            pd.testing.assert_frame_equal(got[layer], frame, check_exact=True,
                                          obj=f"{case.name}: layer {layer}")


def test_the_corpus_covers_every_class_of_the_issue() -> None:
    kinds = {c.expect for c in CASES}
    assert kinds == {"refuse", "same", "build"}
    for name in ("stray_2025_date", "year_2016_missing", "quarter_2018_q2_missing",
                 "dates_40pct_day_first", "dates_day_first_before_2015", "households_1e9",
                 "households_0_where_fires_happened", "households_inf",
                 "percent_column_0_to_100", "duplicated_extract", "bands_quintiles",
                 "origins_start_too_early", "origins_first_after_last",
                 "eight_years_default_origins", "zip_slip_areas", "gzip_bomb_incidents",
                 "stray_2031_and_2204_dates", "semicolon_delimited", "utf16_covariates",
                 "junk_lines_above_header", "cell_over_1mb_in_unused_column", "ragged_rows",
                 "byte_order_mark", "crlf_line_ends"):
        assert name in BY_NAME, name


#: One case each of dates, plausibility and duplicates (a subprocess costs seconds).
REAL_CLI = ("stray_2025_date", "percent_column_0_to_100", "duplicated_extract")


@pytest.mark.parametrize("name", REAL_CLI)
def test_the_installed_command_exits_2_with_the_message(name: str, clean_subset: Path,
                                                        tmp_path: Path) -> None:
    case = BY_NAME[name]
    profile = make_case(case, clean_subset, tmp_path / "case")
    messages = []
    for args in (["check", "--config", str(profile)],
                 ["build", "--config", str(profile), "--out", str(tmp_path / "o.gpkg"),
                  "--no-evaluate"]):
        proc = subprocess.run([firerisk_command(), "--quiet", *args], capture_output=True,
                              text=True, timeout=300, check=False)
        assert proc.returncode == 2, proc.stderr
        messages.append(_error(proc.stderr, args[0]))
    assert messages[0] == messages[1]
    _assert_refused(case, messages[0])
