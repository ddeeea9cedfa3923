"""Tests for risk.disclosure: small-number suppression and the differencing attack."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firerisk.errors import DisclosureError
from firerisk.risk.disclosure import (
    WITHHELD,
    DisclosurePolicy,
    DisclosureReport,
    find_disclosures,
    format_count,
    mask_rate,
    protect_counts,
    public_view,
)

# --------------------------------------------------------------------------------------
# Independent helpers (written from the rule, not from the module's code)
# --------------------------------------------------------------------------------------


def true_tables(counts: pd.DataFrame, groups: pd.Series | None, total_years, grand_label):
    """The unprotected area and group tables, by plain pandas sums."""
    years = list(counts.columns)
    sel = years if total_years is None else list(total_years)
    area = counts.copy()
    area["total"] = counts[sel].sum(axis=1)
    if groups is None:
        grp = area.sum(axis=0).to_frame("All areas").T
    else:
        grp = area.groupby(groups.reindex(area.index).astype(str)).sum().sort_index()
        if grand_label is not None:
            grp.loc[grand_label] = grp.sum(axis=0)
    return area, grp


def cell_range(text: str, t: int, leaf: bool, cap: int) -> range:
    """Values a reader allows for one published cell (cap stands in for 'no upper bound')."""
    if text == f"<{t}":
        return range(1, t)
    if text == WITHHELD:
        return range(t if leaf else 1, cap + 1)
    assert text.isdigit(), text
    return range(int(text), int(text) + 1)


def brute_force(area_pub, group_pub, groups, t, total_years, grand_label, cap):
    """Every filling of the withheld area-year cells consistent with all published text.

    Returns {(table, row, column): set of feasible values} for every cell.
    """
    years = [c for c in area_pub.columns if c != "total"]
    sel = years if total_years is None else list(total_years)
    doms = []
    for a in area_pub.index:
        for y in years:
            doms.append(list(cell_range(area_pub.at[a, y], t, True, cap)))
    grids = np.array(list(itertools.product(*doms)), dtype=np.int64)  # (N, n*Y)
    n, Y = len(area_pub), len(years)
    cube = grids.reshape(-1, n, Y)
    ok = np.ones(len(grids), dtype=bool)
    tot = cube[:, :, [years.index(y) for y in sel]].sum(axis=2)
    full = np.concatenate([cube, tot[:, :, None]], axis=2)  # (N, n, Y+1)
    cols = [*years, "total"]

    def fits(values: np.ndarray, text: str, leaf: bool) -> np.ndarray:
        if text == f"<{t}":
            return (values >= 1) & (values <= t - 1)
        if text == WITHHELD:
            return values >= (t if leaf else 1)
        return values == int(text)

    for i, a in enumerate(area_pub.index):
        ok &= fits(full[:, i, Y], area_pub.at[a, "total"], False)
    if groups is None:
        members = {group_pub.index[0]: list(range(n))}
    else:
        g = groups.reindex(area_pub.index).astype(str).tolist()
        members = {lab: [i for i in range(n) if g[i] == lab] for lab in group_pub.index
                   if lab != grand_label}
    gvals = {}
    for lab, mem in members.items():
        gvals[lab] = full[:, mem, :].sum(axis=1)
    if grand_label is not None and groups is not None:
        gvals[grand_label] = sum(gvals[lab] for lab in members)
    for lab, v in gvals.items():
        for j, c in enumerate(cols):
            ok &= fits(v[:, j], group_pub.at[lab, c], False)
    feasible = {}
    for i, a in enumerate(area_pub.index):
        for j, c in enumerate(cols):
            feasible[("areas", a, c)] = set(full[ok, i, j].tolist())
    for lab, v in gvals.items():
        for j, c in enumerate(cols):
            feasible[("groups", lab, c)] = set(v[ok, j].tolist())
    return feasible


# --------------------------------------------------------------------------------------
# Hand-worked cases
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "t", "expected"), [
    (0, 5, "0"), (1, 5, "<5"), (4, 5, "<5"), (5, 5, "5"), (123, 5, "123"),
    (2, 3, "<3"), (3, 3, "3"), (9, 10, "<10"), (None, 5, WITHHELD), (math.nan, 5, WITHHELD),
    (np.int64(7), 5, "7"), (6.0, 5, "6"),
])
def test_format_count(n, t, expected):
    assert format_count(n, threshold=t) == expected


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_format_count_refuses_non_counts(bad):
    with pytest.raises(DisclosureError):
        format_count(bad, threshold=5)


def test_policy_validation():
    assert DisclosurePolicy().threshold == 5
    with pytest.raises(DisclosureError, match="at least 3"):
        DisclosurePolicy(threshold=2)
    with pytest.raises(DisclosureError, match="internal"):
        DisclosurePolicy(mode="everyone")  # type: ignore[arg-type]


def test_checker_finds_hand_computed_disclosures():
    # a: 3, 0, 7, total 10 -> the "<5" is 10 - 7 = 3.
    # Column 2019: a (3) + b (6) = 9 -> also 3. b's 2020..2021 and the rest are fine.
    area = pd.DataFrame({"2019": ["<5", "6"], "2020": ["0", "8"], "2021": ["7", "0"],
                         "total": ["10", "14"]}, index=["a", "b"])
    group = pd.DataFrame({"2019": ["9"], "2020": ["8"], "2021": ["7"], "total": ["24"]},
                         index=["All areas"])
    found = find_disclosures(area, group, groups=None, threshold=5)
    assert [(d.table, d.row, d.column, d.value) for d in found] == [("areas", "a", "2019", 3)]


def test_checker_uses_marker_bounds():
    # Four "<5" cells adding to a "<5" total: each is at least 1 and the total at most 4,
    # so every cell is exactly 1 and the total exactly 4, with no subtraction at all.
    area = pd.DataFrame([["<5"] * 4 + ["<5"]], index=["a"],
                        columns=["y1", "y2", "y3", "y4", "total"])
    found = find_disclosures(area, area.set_axis(["All areas"]), groups=None, threshold=5)
    values = {(d.table, d.column): d.value for d in found}
    assert values[("areas", "y1")] == 1
    assert values[("areas", "total")] == 4
    assert len(found) == 10  # 5 cells in each table


def test_checker_accepts_a_protected_hand_case():
    # a: "<5", 0, 7, [c]; b: [c], 8, 0, [c]; group published. a_2019 + 7 = Ra,
    # a_2019 + b_2019 = 9 with b_2019 >= 5: a_2019 can be 1..4.
    area = pd.DataFrame({"2019": ["<5", "[c]"], "2020": ["0", "8"], "2021": ["7", "0"],
                         "total": ["[c]", "[c]"]}, index=["a", "b"])
    group = pd.DataFrame({"2019": ["9"], "2020": ["8"], "2021": ["7"], "total": ["24"]},
                         index=["All areas"])
    assert find_disclosures(area, group, groups=None, threshold=5) == []


def test_small_total_that_pins_its_cells_is_shown_as_withheld():
    # Area a had one fire in each of four years: total 4. With "<5" on all five cells
    # the reader knows every cell is 1, so the total must lose its "<5" bound.
    counts = pd.DataFrame({"y1": [1, 9, 7], "y2": [1, 8, 6], "y3": [1, 7, 9], "y4": [1, 6, 8]},
                          index=["a", "b", "c"])
    p = protect_counts(counts, policy=DisclosurePolicy(threshold=5))
    assert p.area_table.loc["a", "total"] == WITHHELD
    assert p.area_primary.loc["a", "total"]
    assert p.relabelled_cells >= 1
    assert p.audit() == []


def test_secondary_suppression_on_a_hand_case():
    # The single "<5" of row a would be total - 7; some other cell of row a and of
    # column 2019 must be withheld, and the checker must find nothing.
    counts = pd.DataFrame({"2019": [3, 6], "2020": [0, 8], "2021": [7, 0]}, index=["a", "b"])
    p = protect_counts(counts)
    assert p.area_table.loc["a", "2019"] == "<5"
    assert p.area_table.loc["a", "2020"] == "0"  # zeros are never withheld
    row_a = p.area_secondary.loc["a"] | p.area_primary.loc["a"]
    assert row_a.sum() >= 2
    assert (p.area_secondary["2019"] | p.area_primary["2019"]).sum() >= 2
    assert p.secondary_cells >= 2
    assert p.audit() == []


def test_group_totals_survive_on_realistic_counts():
    # 240 areas in 4 groups, 15 years, Poisson mean 1.1 (the London LSOA shape).
    rng = np.random.default_rng(7)
    counts = pd.DataFrame(rng.poisson(1.1, size=(240, 15)),
                          index=[f"E01{i:06d}" for i in range(240)],
                          columns=[str(y) for y in range(2009, 2024)])
    groups = pd.Series(np.repeat(["A", "B", "C", "D"], 60), index=counts.index)
    p = protect_counts(counts, groups=groups, grand_label="All")
    small = ((counts >= 1) & (counts <= 4)).to_numpy()
    assert (p.area_primary[counts.columns].to_numpy() == small).all()
    assert p.group_cells_published == 60  # every group-year total is large and shown
    assert (p.group_table.loc["All"] != WITHHELD).all()
    assert p.secondary_cells < 0.02 * counts.size


def test_input_validation():
    good = pd.DataFrame({"2020": [1, 2]}, index=["a", "b"])
    with pytest.raises(DisclosureError, match="whole numbers"):
        protect_counts(pd.DataFrame({"2020": [1.5, 2]}, index=["a", "b"]))
    with pytest.raises(DisclosureError, match="whole numbers"):
        protect_counts(pd.DataFrame({"2020": [np.nan, 2]}, index=["a", "b"]))
    with pytest.raises(DisclosureError, match="no group"):
        protect_counts(good, groups=pd.Series({"a": "G"}))
    with pytest.raises(DisclosureError, match="already called"):
        protect_counts(good, total_label="2020")


def test_public_mode_publishes_no_counts():
    counts = pd.DataFrame({"2020": [1, 20], "2021": [0, 30]}, index=["a", "b"])
    p = protect_counts(counts, policy=DisclosurePolicy(mode="public"))
    assert p.area_table.shape == (2, 0)
    assert p.group_table.shape[1] == 0
    assert p.audit() == []


def test_mask_rate():
    rates = pd.Series([0.0, 1.5, 2.5, 3.5])
    masked = mask_rate(rates, pd.Series([0, 3, 12, np.nan]), threshold=5)
    assert masked.tolist()[0] == 0.0
    assert masked.tolist()[2] == 2.5
    assert masked.isna().tolist() == [False, True, False, True]
    masked = mask_rate(rates, ["0", "<5", "12", "[c]"], threshold=5)
    assert masked.isna().tolist() == [False, True, False, True]
    assert mask_rate(2.0, 4, threshold=5) != mask_rate(2.0, 4, threshold=5)  # NaN
    assert mask_rate(2.0, 5, threshold=5) == 2.0


def test_public_view_drops_counts_and_rates():
    df = pd.DataFrame({"area_id": ["a"], "band": ["High"], "rank": [1], "obs_2020": ["<5"],
                       "risk_per_1000": [3.2]})
    out = public_view(df, count_columns=["obs_2020"], rate_columns=["risk_per_1000"])
    assert list(out.columns) == ["area_id", "band", "rank"]
    assert "obs_2020" in df.columns  # the input is left alone
    with pytest.raises(DisclosureError, match="obs_2021"):
        public_view(df, count_columns=["obs_2021"], rate_columns=[])


def test_report_text():
    counts = pd.DataFrame({"2019": [3, 6], "2020": [0, 8], "2021": [7, 0]}, index=["a", "b"])
    p = protect_counts(counts, policy=DisclosurePolicy(threshold=5))
    rep = DisclosureReport.from_protected(p, notes=["Incidents 2009-2023."])
    text = rep.to_text()
    assert "Threshold: 5" in text
    assert "'<5'" in text
    assert f"{p.primary_cells:,} small counts" in text
    assert f"{p.secondary_cells:,} further cells" in text
    assert "Person-level data: none read" in text
    assert "Note: Incidents 2009-2023." in text
    assert rep.to_dict()["primary_cells"] == str(p.primary_cells)
    warn = DisclosureReport(5, "public", 0, 0, person_level_data_read=True).to_text()
    assert "WARNING" in warn
    assert "Mode: public" in warn
    assert "no count tables are published" in warn


# --------------------------------------------------------------------------------------
# Property-based: random small tables
# --------------------------------------------------------------------------------------


@st.composite
def count_tables(draw, max_areas=6, max_years=4):
    t = draw(st.integers(3, 10))
    n = draw(st.integers(1, max_areas))
    Y = draw(st.integers(1, max_years))
    cell = st.one_of(st.just(0), st.integers(1, t - 1), st.integers(t, 3 * t))
    values = draw(st.lists(cell, min_size=n * Y, max_size=n * Y))
    counts = pd.DataFrame(np.array(values, dtype=np.int64).reshape(n, Y),
                          index=[f"a{i}" for i in range(n)],
                          columns=[str(2000 + y) for y in range(Y)])
    groups = None
    if draw(st.booleans()):
        k = draw(st.integers(1, 3))
        groups = pd.Series([f"g{draw(st.integers(0, k - 1))}" for _ in range(n)],
                           index=counts.index)
    grand = "All" if groups is not None and draw(st.booleans()) else None
    total_years = None
    if Y >= 2 and draw(st.booleans()):
        total_years = list(counts.columns[draw(st.integers(1, Y - 1)):])
    return counts, groups, t, grand, total_years


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count_tables(), st.sampled_from(["internal", "public"]))
def test_no_small_count_is_readable_or_recoverable(case, mode):
    counts, groups, t, grand, total_years = case
    p = protect_counts(counts, groups=groups, policy=DisclosurePolicy(threshold=t, mode=mode),
                       grand_label=grand, total_years=total_years)
    if mode == "public":
        assert p.area_table.shape[1] == 0
        assert p.group_table.shape[1] == 0
        return
    area, grp = true_tables(counts, groups, total_years, grand)
    for pub, true, prim, sec in ((p.area_table, area, p.area_primary, p.area_secondary),
                                 (p.group_table, grp, p.group_primary, p.group_secondary)):
        assert list(pub.index.astype(str)) == list(true.index.astype(str))
        pub_v, true_v = pub.to_numpy(), true.to_numpy()
        small = (true_v >= 1) & (true_v <= t - 1)
        # 1. every small count is withheld, and no shown number is small
        assert (prim.to_numpy() == small).all()
        shown = np.char.isdigit(pub_v.astype(str))
        assert not (shown & small).any()
        # 2. shown numbers are the true ones; withheld complements are never zeros
        assert (pub_v[shown].astype(np.int64) == true_v[shown]).all()
        assert (true_v[sec.to_numpy()] >= t).all()
        assert (pub_v[prim.to_numpy()] != "0").all()
    # 3. the differencing attack (LP over every published relation) finds nothing
    assert p.audit() == []


@st.composite
def tiny_tables(draw):
    t = draw(st.integers(3, 6))
    n, Y = draw(st.sampled_from([(2, 3), (3, 2), (2, 2)]))
    cell = st.one_of(st.just(0), st.integers(1, t - 1), st.integers(t, 2 * t))
    values = draw(st.lists(cell, min_size=n * Y, max_size=n * Y))
    counts = pd.DataFrame(np.array(values, dtype=np.int64).reshape(n, Y),
                          index=[f"a{i}" for i in range(n)], columns=[f"y{y}" for y in range(Y)])
    layout = draw(st.sampled_from(["none", "one", "split", "split+grand"]))
    groups = None
    if layout != "none":
        labels = ["g0"] * n if layout == "one" else [f"g{i % 2}" for i in range(n)]
        groups = pd.Series(labels, index=counts.index)
    grand = "All" if layout == "split+grand" else None
    return counts, groups, t, grand


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_tables())
def test_brute_force_finds_no_pinned_small_count(case):
    counts, groups, t, grand = case
    p = protect_counts(counts, groups=groups, policy=DisclosurePolicy(threshold=t),
                       grand_label=grand)
    cap = int(counts.to_numpy().max()) + 2
    feasible = brute_force(p.area_table, p.group_table, groups, t, None, grand, cap)
    area, grp = true_tables(counts, groups, None, grand)
    for table, true, prim in (("areas", area, p.area_primary), ("groups", grp, p.group_primary)):
        for row in true.index:
            for col in true.columns:
                values = feasible[(table, row if table == "areas" else str(row), col)]
                assert int(true.at[row, col]) in values  # the true table fits
                if prim.at[row, col]:
                    assert len(values) >= 2, (table, row, col, values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_tables())
def test_lp_checker_agrees_with_brute_force(case):
    # Publish with primary suppression only (no complements): the LP checker must flag
    # exactly the cells that exhaustive enumeration pins to one small value.
    counts, groups, t, grand = case
    area, grp = true_tables(counts, groups, None, grand)
    area_pub = area.map(lambda v: format_count(v, threshold=t))
    grp_pub = grp.map(lambda v: format_count(v, threshold=t))
    grp_pub.index = grp_pub.index.astype(str)
    feasible = brute_force(area_pub, grp_pub, groups, t, None, grand, cap=0)
    expected = {key for key, values in feasible.items()
                if len(values) == 1 and 1 <= next(iter(values)) <= t - 1}
    found = find_disclosures(area_pub, grp_pub, groups=groups, threshold=t, grand_label=grand)
    assert {(d.table, d.row, d.column) for d in found} == expected
    for d in found:
        assert feasible[(d.table, d.row, d.column)] == {d.value}


# --------------------------------------------------------------------------------------
# Sparse tables (national scale: almost every cell 0 or 1)
# --------------------------------------------------------------------------------------


def interval_attack(area_pub, group_pub, groups, t, total_years, grand_label, max_sweeps=60):
    """A reader with a spreadsheet: narrow every withheld cell's range relation by relation.

    Each additive relation (an area's or group's years add to its total; a group's areas
    add to the group row; the groups add to the grand row) bounds each of its cells by
    the others' bounds; repeat until nothing changes. Weaker than the LP checker but
    cheap on large tables. Returns {(table, row, column): (low, high)} for withheld cells.
    """
    years = [c for c in area_pub.columns if c != "total"]
    sel = years if total_years is None else list(total_years)
    cols = [*years, "total"]
    frames = {"areas": area_pub, "groups": group_pub}
    keys: list[tuple[str, object, object]] = []
    lows: list[float] = []
    highs: list[float] = []
    withheld: list[bool] = []
    pos = {}
    for table, frame in frames.items():
        for row in frame.index:
            for col in cols:
                text = str(frame.at[row, col])
                leaf = table == "areas" and col != "total"
                if text == f"<{t}":
                    a, b = 1.0, float(t - 1)
                elif text == WITHHELD:
                    a, b = float(t if leaf else 1), math.inf
                else:
                    a = b = float(int(text))
                pos[(table, row, col)] = len(keys)
                keys.append((table, row, col))
                lows.append(a)
                highs.append(b)
                withheld.append(not text.isdigit())
    lo, hi = np.array(lows), np.array(highs)
    lines = []  # (member cell ids, total cell id)
    for table, frame in frames.items():
        for row in frame.index:
            lines.append(([pos[(table, row, y)] for y in sel], pos[(table, row, "total")]))
    g = groups.reindex(area_pub.index).astype(str)
    group_rows = [r for r in group_pub.index if r != grand_label]
    for col in cols:
        for lab in group_rows:
            lines.append(([pos[("areas", a, col)] for a in g.index[g == lab]],
                          pos[("groups", lab, col)]))
        if grand_label is not None:
            lines.append(([pos[("groups", lab, col)] for lab in group_rows],
                          pos[("groups", grand_label, col)]))
    relations = [(np.array(m, dtype=np.int64), k) for m, k in lines]
    for _ in range(max_sweeps):
        moved = False
        for members, k in relations:
            mlo, mhi = lo[members], hi[members]
            n_inf = int(np.isinf(mhi).sum())
            fin_hi = float(mhi[np.isfinite(mhi)].sum())
            # the total lies between the sums of its members' bounds
            new_lo_k = max(lo[k], mlo.sum())
            new_hi_k = min(hi[k], math.inf if n_inf else fin_hi)
            # each member is the total minus the others
            others_lo = mlo.sum() - mlo
            others_inf = n_inf - np.isinf(mhi).astype(int)
            others_hi = np.where(others_inf > 0, math.inf,
                                 fin_hi - np.where(np.isinf(mhi), 0.0, mhi))
            new_lo_m = np.maximum(mlo, lo[k] - others_hi)
            new_hi_m = np.minimum(mhi, hi[k] - others_lo)
            if (new_lo_k > lo[k] or new_hi_k < hi[k] or (new_lo_m > mlo).any()
                    or (new_hi_m < mhi).any()):
                moved = True
                lo[k], hi[k] = new_lo_k, new_hi_k
                lo[members], hi[members] = new_lo_m, new_hi_m
        if not moved:
            break
    assert (lo <= hi).all()  # the true table always fits
    return {key: (lo[i], hi[i]) for i, key in enumerate(keys) if withheld[i]}


def test_interval_attack_finds_a_hand_computed_disclosure():
    # The hand case of test_checker_finds_hand_computed_disclosures: a_2019 = 10 - 7 = 3.
    area = pd.DataFrame({"2019": ["<5", "6"], "2020": ["0", "8"], "2021": ["7", "0"],
                         "total": ["10", "14"]}, index=["a", "b"])
    group = pd.DataFrame({"2019": ["9"], "2020": ["8"], "2021": ["7"], "total": ["24"]},
                         index=["G"])
    ranges = interval_attack(area, group, pd.Series(["G", "G"], index=["a", "b"]), 5, None,
                             None)
    assert ranges[("areas", "a", "2019")] == (3.0, 3.0)


def sparse_table(n_areas, n_years, n_groups, lam, seed):
    rng = np.random.default_rng(seed)
    counts = pd.DataFrame(rng.poisson(lam, size=(n_areas, n_years)),
                          index=[f"E01{i:06d}" for i in range(n_areas)],
                          columns=[str(2016 + y) for y in range(n_years)])
    groups = pd.Series([f"LA{i * n_groups // n_areas:03d}" for i in range(n_areas)],
                       index=counts.index)
    return counts, groups


def test_sparse_national_shape_is_protected():
    # 3,000 areas x 8 years, mean 0.05 per cell (almost every cell 0 or 1), 30 groups,
    # a grand-total row and a total over the last 4 years: the shape that used to run
    # for minutes. Every small count must be withheld and none narrowed to one value.
    counts, groups = sparse_table(3000, 8, 30, 0.05, seed=3)
    total_years = list(counts.columns[-4:])
    p = protect_counts(counts, groups=groups, total_years=total_years, grand_label="All areas")
    area, grp = true_tables(counts, groups, total_years, "All areas")
    for pub, true, prim, sec in ((p.area_table, area, p.area_primary, p.area_secondary),
                                 (p.group_table, grp, p.group_primary, p.group_secondary)):
        pub_v, true_v = pub.to_numpy().astype(str), true.to_numpy()
        small = (true_v >= 1) & (true_v <= 4)
        assert (prim.to_numpy() == small).all()
        shown = np.char.isdigit(pub_v)
        assert (pub_v[shown].astype(np.int64) == true_v[shown]).all()
        assert (true_v[sec.to_numpy()] >= 5).all()  # complements are never zeros
    assert p.primary_cells > 1000  # the table really is full of small counts
    ranges = interval_attack(p.area_table, p.group_table, groups, 5, total_years, "All areas")
    pinned = [key for key, (lo, hi) in ranges.items() if lo == hi and 1 <= lo <= 4]
    assert pinned == []
    # the same attack on primary suppression alone pins many counts (sparse rows and
    # columns give them away), so it is a real check
    raw = [tab.map(lambda v: format_count(v, threshold=5)) for tab in (area, grp)]
    ranges = interval_attack(raw[0], raw[1], groups, 5, total_years, "All areas")
    assert sum(lo == hi and 1 <= lo <= 4 for lo, hi in ranges.values()) > 100


def test_sparse_subset_passes_the_lp_check():
    # Three groups of the sparse shape, small enough for the full LP differencing attack.
    counts, groups = sparse_table(3000, 8, 30, 0.05, seed=3)
    keep = groups.isin(["LA000", "LA001", "LA002"])
    counts, groups = counts[keep], groups[keep]
    p = protect_counts(counts, groups=groups, total_years=list(counts.columns[-4:]),
                       grand_label="All areas")
    assert p.primary_cells > 50
    assert p.audit() == []
