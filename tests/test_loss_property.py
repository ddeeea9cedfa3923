"""Property: corrupted rows either stop the build or are every one named in the accounting.

Hypothesis draws a share (0 to 60 %) of rows to corrupt and how: unreadable dates, missing
coordinates, or positions moved outside every area. Truth is known because the test
corrupts the rows itself. Whatever the share, loading either stops with a problem naming
the corrupted column, or returns an accounting in which exactly the corrupted rows are
dropped for the matching reason (read = used + dropped); above 1 % of the rows a warning
says so, and above 5 % (10 rows or more) the load must stop.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from firerisk.errors import InputFileError
from firerisk.geo.ingest import load_inputs
from firerisk.geo.profile import load_profile
from firerisk.geo.quality import STOP_MIN_ROWS, STOP_SHARE, WARN_SHARE
from tests.test_validation import X0, Y0, base_profile, write_case

N = 3000
REASON = {"date": "bad date", "coordinates": "missing coordinates",
          "moved": "outside every area"}
#: The column a stopping problem must name (the coordinate pair, or the one that is empty).
COLUMN = {"date": {"when"}, "coordinates": {"east", "east/north"}, "moved": {"east/north"}}


def clean_rows(seed: int = 3) -> pd.DataFrame:
    """3,000 incidents spread evenly over the four squares and 2019-2022."""
    rng = np.random.default_rng(seed)
    days = pd.to_datetime("2019-01-01") + pd.to_timedelta(rng.integers(0, 1461, N), unit="D")
    return pd.DataFrame({
        "east": (X0 + 5 + rng.integers(0, 19, N) * 10).astype(int).astype(str),
        "north": (Y0 + 5 + rng.integers(0, 19, N) * 10).astype(int).astype(str),
        "when": days.strftime("%Y-%m-%d"),
        "kind": rng.choice(["house", "flat"], N),
        "motive": "accidental",
        "caller_name": [f"Person {i}" for i in range(N)],
    })


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("property")
    prof = base_profile()
    prof["study"] = {"start": date(2019, 1, 1), "end": date(2022, 12, 31)}
    write_case(path, incident_rows=clean_rows(), profile=prof)
    return path


def corrupt(rows: pd.DataFrame, kind: str, picked: np.ndarray) -> pd.DataFrame:
    out = rows.copy()
    if kind == "date":
        out.loc[picked, "when"] = np.where(picked % 2 == 0, "31/31/2020", "unknown")
    elif kind == "coordinates":
        out.loc[picked, "east"] = ""
    else:  # moved 5 km east, outside every square but inside British National Grid
        out.loc[picked, "east"] = (out.loc[picked, "east"].astype(int) + 5000).astype(str)
    return out


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(share=st.floats(0.0, 0.6), kind=st.sampled_from(sorted(REASON)),
       seed=st.integers(0, 2**16))
@example(share=0.0, kind="date", seed=1)
@example(share=0.005, kind="coordinates", seed=2)  # a note only
@example(share=0.03, kind="date", seed=3)  # a warning, and the build goes on
@example(share=0.03, kind="moved", seed=4)
@example(share=0.08, kind="coordinates", seed=5)  # over the ceiling: stops
@example(share=0.3, kind="moved", seed=6)
@example(share=0.55, kind="date", seed=7)  # most dates: the wrong-format message
def test_corruption_is_named_or_stops_the_build(folder: Path, share: float, kind: str,
                                                seed: int) -> None:
    rows = clean_rows()
    k = round(share * N)
    picked = np.sort(np.random.default_rng(seed).choice(N, size=k, replace=False))
    corrupt(rows, kind, picked).to_csv(folder / "incidents.csv", index=False)
    profile = load_profile(folder / "profile.toml")
    must_stop = k / N > STOP_SHARE and k >= STOP_MIN_ROWS
    try:
        inputs = load_inputs(profile)
    except InputFileError as exc:
        stopped: InputFileError | None = exc
    else:
        stopped = None
    if stopped is not None:
        event("stopped")
        assert COLUMN[kind] & {p.column for p in stopped.problems}, stopped
        return
    event("built with a warning" if inputs.warnings else "built")
    assert not must_stop, f"{k} of {N} rows corrupted ({kind}) and the load went on"
    acc = inputs.accounting
    assert acc.rows_read == N == acc.rows_used + sum(acc.dropped.values())
    assert acc.dropped[REASON[kind]] == k  # exactly the corrupted rows, no more, no fewer
    assert set(acc.examples[REASON[kind]]) == {int(r) + 1 for r in picked[:10]}
    others = {r: n for r, n in acc.dropped.items() if r != REASON[kind] and n}
    assert others == {}
    warned = [w for w in inputs.warnings if f"'{REASON[kind]}'" in w]
    assert bool(warned) == (k / N > WARN_SHARE), (k, inputs.warnings)
