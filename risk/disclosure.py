"""Small-number disclosure control for published incident counts.

Pure computation: no file I/O. Every table of observed counts that leaves the tool
(results file, app, PDF) goes through :func:`protect_counts`; every export carries a
:class:`DisclosureReport`.

Published markers
-----------------
* ``0``: exactly zero. Zeros are never withheld.
* ``12``: the exact count (only counts of at least the threshold *t* are shown).
* ``<5`` (``<t``): a count from 1 to t-1 (primary suppression).
* ``[c]``: withheld so that another count cannot be worked out (secondary,
  or "complementary", suppression). On an area-year cell it hides a count of
  t or more. On a total (an area's multi-year total, a group's yearly or
  multi-year total, a grand total) it hides any count of 1 or more: a small total
  is shown as ``[c]`` instead of ``<t`` when its upper bound would give other
  cells away.

Suppression rule (internal mode)
--------------------------------
The published tables are the area table (one row per area: one column per year
plus a total column, the sum of the chosen years) and the group table (one row per
group of areas, e.g. borough, with the same columns; optionally a grand-total row).
Every figure in them is a sum that a reader can check: an area's years add up to its
total, a group's areas add up to the group row, the groups add up to the grand total.

1. Primary suppression: every count from 1 to t-1, wherever it appears (area-year
   cells, area totals, group-year cells, group totals, grand totals), is withheld
   and shown as ``<t``.
2. Secondary suppression: we assume a reader who knows every published number,
   every additive relation above, and what each marker means (``0`` exact,
   ``<t`` is 1..t-1, ``[c]`` on an area-year cell is at least t, ``[c]`` on a total
   is at least 1). A withheld small count is protected when the reader cannot pin
   it to a single value. For every primary cell the tool finds an explicit
   witness: a second table that differs from the true one only in withheld cells,
   by +1 or -1, agrees with every published number and every additive relation, and
   respects every marker bound. The reader cannot tell the two tables apart, so the
   cell could take two values. A witness has one of four shapes:
   (a) a rectangle: two areas of the same group and two columns (years that add
   into the total, or the total itself), signed so that every row and column sum
   is unchanged; when there is no grand-total row, the group's own row may be one
   of the two rows;
   (b) two areas of the same group in a year that does not add into the total;
   (c) with a grand-total row: a rectangle of the group table (two groups, or a
   group and the grand row), each group's change carried by one of its areas;
   (d) the cell together with every total it adds into, all moved the same way.
3. When a primary cell has no witness, the tool withholds the cheapest further
   cells that complete one: it never withholds a zero; it prefers area-level cells
   to group-level ones (a group cell costs 20 times its value, a grand-total cell
   50 times, an area cell its value) and small counts to large ones; replacing a
   small total's ``<t`` by ``[c]`` costs 1. It repeats, one cell at a time, until
   every primary cell has a witness. Adding suppressions never invalidates a
   witness already found, so the loop ends.

Limits: the guarantee is that no withheld count can be pinned to one value
using the published tables of one call. A reader who also knows *how* the tool
chooses complementary cells (smallest first) could narrow some ranges further;
tables published from different calls (e.g. a second total over other years) are
not protected against each other, so publish only what one call returns. Rates
computed from a withheld count must be withheld too (:func:`mask_rate`); other
published figures from which a count can be computed back (for example a model's
expected value together with its coefficient on the area's own history) are outside
this guarantee. :func:`find_disclosures` is an independent check by linear
programming.

Public mode publishes bands and ranks only: no incident counts and no rates
computed from them (:func:`public_view`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from firerisk.errors import DisclosureError, Problem

__all__ = [
    "MODES",
    "WITHHELD",
    "Disclosure",
    "DisclosurePolicy",
    "DisclosureReport",
    "ProtectedCounts",
    "find_disclosures",
    "format_count",
    "mask_rate",
    "protect_counts",
    "public_view",
    "small_marker",
]

WITHHELD = "[c]"
MODES = ("internal", "public")

#: Cost of withholding a published cell, per unit of its value, by level.
AREA_WEIGHT = 1.0
GROUP_WEIGHT = 20.0
GRAND_WEIGHT = 50.0
#: Cost of showing a small total as "[c]" instead of "<t".
RELABEL_COST = 1.0

_BIG = 1 << 40  # stands in for "no upper bound"
_WHERE = "disclosure settings"

# Status codes of a cell while protecting.
_PUBLISHED, _PRIMARY, _RELABELLED, _SECONDARY = 0, 1, 2, 3


def small_marker(threshold: int) -> str:
    """The marker shown for a count from 1 to ``threshold - 1``, e.g. ``"<5"``."""
    return f"<{threshold}"


@dataclass(frozen=True)
class DisclosurePolicy:
    """Disclosure settings: the threshold *t* and who the output is for.

    Parameters
    ----------
    threshold : int
        Counts from 1 to ``threshold - 1`` are never shown. At least 3: with 2, the
        marker ``<2`` would itself reveal a count of exactly 1.
    mode : {"internal", "public"}
        ``internal``: suppressed counts for fire service staff. ``public``: bands
        and ranks only, no counts or rates from real incidents.
    """

    threshold: int = 5
    mode: Literal["internal", "public"] = "internal"

    def __post_init__(self) -> None:
        problems = []
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 3:
            problems.append(Problem(
                _WHERE, f"threshold must be a whole number of at least 3, got {t!r} "
                "(with 2, the marker '<2' would reveal a count of exactly 1).",
                "set [disclosure] threshold = 5 in the profile.", column="threshold"))
        if self.mode not in MODES:
            problems.append(Problem(
                _WHERE, f"mode must be 'internal' or 'public', got {self.mode!r}.",
                "set [disclosure] mode = \"internal\" (service staff) or \"public\".",
                column="mode"))
        if problems:
            raise DisclosureError(problems)


def format_count(n: Any, *, threshold: int) -> str:
    """Show one count under the small-number rule.

    Parameters
    ----------
    n : int, float, None
        The count. ``None`` or NaN means "withheld" (secondary suppression).
    threshold : int
        Counts from 1 to ``threshold - 1`` are shown as ``"<threshold"``.

    Returns
    -------
    str
        ``"0"``, ``"<5"``, the count itself (``"12"``), or ``"[c]"`` if withheld.
    """
    if n is None or (isinstance(n, float | np.floating) and math.isnan(n)) or n is pd.NA:
        return WITHHELD
    value = float(n)
    if value < 0 or value != int(value):
        raise DisclosureError([Problem("counts", f"a count must be a whole number >= 0, got {n!r}.",
                                       "pass raw incident counts, not rates or rounded means.")])
    k = int(value)
    if k == 0:
        return "0"
    if k < threshold:
        return small_marker(threshold)
    return str(k)


# --------------------------------------------------------------------------------------
# The protected tables
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Disclosure:
    """A withheld count that the published tables pin to a single small value."""

    table: str  # "areas" or "groups"
    row: Hashable
    column: Hashable
    marker: str
    value: int

    def __str__(self) -> str:
        return (f"{self.table} table, row {self.row!r}, column {self.column!r}: shown as "
                f"{self.marker!r} but the published figures force it to be {self.value}.")


@dataclass(frozen=True, eq=False)
class ProtectedCounts:
    """Publishable count tables and where suppression was applied.

    Attributes
    ----------
    area_table, group_table : DataFrame
        Text cells (``"0"``, ``"12"``, ``"<5"``, ``"[c]"``): areas (or groups) by the
        year columns plus the total column. In public mode both have no columns.
    area_primary, area_secondary, group_primary, group_secondary : DataFrame
        Boolean masks, same shape: small counts withheld (primary; includes small
        totals shown as ``[c]``) and further cells withheld to protect them.
    primary_cells, secondary_cells : int
        Cells withheld in both tables, by kind.
    relabelled_cells : int
        Small totals shown as ``[c]`` rather than ``<t`` (counted as primary).
    """

    area_table: pd.DataFrame
    group_table: pd.DataFrame
    area_primary: pd.DataFrame
    area_secondary: pd.DataFrame
    group_primary: pd.DataFrame
    group_secondary: pd.DataFrame
    primary_cells: int
    secondary_cells: int
    relabelled_cells: int
    threshold: int
    mode: str
    total_label: str
    total_years: tuple[Hashable, ...]
    groups: pd.Series | None
    grand_label: str | None

    @property
    def group_cells_published(self) -> int:
        """Group-year cells (total column excluded, grand row excluded) shown exactly."""
        if self.group_table.shape[1] == 0:
            return 0
        tab = self.group_table.drop(columns=[self.total_label])
        if self.grand_label is not None and self.groups is not None:
            tab = tab.drop(index=[self.grand_label])
        return int((~(self.group_primary.loc[tab.index, tab.columns]
                      | self.group_secondary.loc[tab.index, tab.columns])).to_numpy().sum())

    def audit(self) -> list[Disclosure]:
        """Run :func:`find_disclosures` on these tables (fine for small tables)."""
        if self.area_table.shape[1] == 0:
            return []
        return find_disclosures(self.area_table, self.group_table, groups=self.groups,
                                threshold=self.threshold, total_label=self.total_label,
                                total_years=self.total_years, grand_label=self.grand_label)


@dataclass
class _Layout:
    """Rows: areas, then groups, then (optionally) the grand row. Columns: years, total."""

    n_areas: int
    n_groups: int
    grand: bool
    n_years: int
    in_total: np.ndarray  # (C,) bool: year columns that add into the total column
    members: list[np.ndarray]  # area row indices of each group

    @property
    def n_rows(self) -> int:
        return self.n_areas + self.n_groups + int(self.grand)

    @property
    def total_col(self) -> int:
        return self.n_years

    def group_row(self, g: int) -> int:
        return self.n_areas + g

    @property
    def grand_row(self) -> int:
        return self.n_areas + self.n_groups

    def ancestors(self, r: int, group_of: np.ndarray) -> list[int]:
        """The row itself and every row it adds into."""
        out = [r]
        if r < self.n_areas:
            out.append(self.group_row(int(group_of[r])))
        if self.grand and out[-1] < self.grand_row:
            out.append(self.grand_row)
        return out

    def chain_cols(self, c: int) -> list[int]:
        if c == self.total_col:
            return [c]
        return [c, self.total_col] if self.in_total[c] else [c]


def _move_costs(V: np.ndarray, st: np.ndarray, leaf: np.ndarray, weight: np.ndarray,
                t: int) -> tuple[np.ndarray, np.ndarray]:
    """Cost of letting each cell move by +1 / -1 in a witness (0 = possible as is)."""
    prim = st == _PRIMARY
    wh = st >= _RELABELLED
    lo = np.where(prim, 1, np.where(wh, np.where(leaf, t, 1), V))
    hi = np.where(prim, t - 1, np.where(wh, _BIG, V))
    withheld = st != _PUBLISHED
    up = withheld & (hi >= V + 1)
    dn = withheld & (lo <= V - 1)
    cu = np.full(V.shape, np.inf)
    cd = np.full(V.shape, np.inf)
    cu[up] = 0.0
    cd[dn] = 0.0
    rel = prim & ~leaf
    cu[rel & ~up] = RELABEL_COST
    cd[rel & ~dn & (V >= 2)] = RELABEL_COST
    pub = (st == _PUBLISHED) & (V > 0)
    cost = weight * V
    cu[pub] = cost[pub]
    dn_pub = pub & (np.where(leaf, t, 1) <= V - 1)
    cd[dn_pub] = cost[dn_pub]
    return cu, cd


def _certified(P: np.ndarray, M: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """Cells of one block with a zero-cost witness inside the block.

    ``P``/``M``: can the cell move +1/-1 in the block's signed coordinates (where
    every row and every column of the block sums to zero).
    """
    k = P.shape[0]
    cert = np.zeros(P.shape, dtype=bool)
    rc = np.flatnonzero(rect)
    if k >= 2 and rc.size >= 2:
        for A, B in ((P, M), (M, P)):
            Ar = A[:, rc].astype(np.int64)
            Br = B[:, rc].astype(np.int64)
            K = Br.T @ Ar  # K[c1, c2] = #rows i' with B[i', c1] and A[i', c2]
            cnt = Br @ K.T  # sum over c2 of B[i, c2] K[c1, c2]
            cnt -= Br * np.diag(K)[None, :]  # drop c2 == c1
            both = Br * Ar
            cnt -= Br * (both.sum(axis=1)[:, None] - both)  # drop i' == i
            cert[:, rc] |= (Ar > 0) & (cnt > 0)
    dc = np.flatnonzero(~rect)
    if k >= 2 and dc.size:
        for A, B in ((P, M), (M, P)):
            others = B[:, dc].sum(axis=0)[None, :] - B[:, dc]
            cert[:, dc] |= A[:, dc] & (others > 0)
    return cert


def _best_witness(CP: np.ndarray, CM: np.ndarray, i: int, c: int, rect: np.ndarray
                  ) -> tuple[float, list[tuple[int, int, int]]]:
    """Cheapest rectangle (or column pair) through cell (i, c) of a block."""
    best: tuple[float, list[tuple[int, int, int]]] = (math.inf, [])
    k = CP.shape[0]
    if k < 2:
        return best
    for sign, own_cost, opp_cost in ((1, CP, CM), (-1, CM, CP)):
        own = own_cost[i, c]
        if not np.isfinite(own):
            continue
        if rect[c]:
            cols = np.flatnonzero(rect)
            cols = cols[cols != c]
            if cols.size == 0:
                continue
            tot = (own + opp_cost[i, cols][None, :] + opp_cost[:, c][:, None]
                   + own_cost[:, cols])
            tot[i, :] = np.inf
            flat = int(np.argmin(tot))
            i2, j = divmod(flat, cols.size)
            cost = float(tot[i2, j])
            c2 = int(cols[j])
            corners = [(i, c, sign), (i, c2, -sign), (i2, c, -sign), (i2, c2, sign)]
        else:
            tot = own + opp_cost[:, c]
            tot[i] = np.inf
            i2 = int(np.argmin(tot))
            cost = float(tot[i2])
            corners = [(i, c, sign), (i2, c, -sign)]
        if cost < best[0]:
            best = (cost, corners)
    return best


class _Protector:
    """Working state of the suppression search (see the module docstring)."""

    def __init__(self, V: np.ndarray, lay: _Layout, group_of: np.ndarray, t: int) -> None:
        self.V = V
        self.lay = lay
        self.group_of = group_of
        self.t = t
        R, C = V.shape
        self.leaf = np.zeros((R, C), dtype=bool)
        self.leaf[: lay.n_areas, : lay.n_years] = True
        self.weight = np.full((R, C), AREA_WEIGHT)
        self.weight[lay.n_areas: lay.n_areas + lay.n_groups] = GROUP_WEIGHT
        if lay.grand:
            self.weight[lay.grand_row] = GRAND_WEIGHT
        self.st = np.where((V >= 1) & (t > V), _PRIMARY, _PUBLISHED).astype(np.int8)
        self.col_sign = np.ones(C, dtype=np.int64)
        self.col_sign[lay.total_col] = -1
        self.rect = np.append(lay.in_total[: lay.n_years], True)
        # cells with a witness found outside the block search (chain moves, group-table
        # rectangles); a witness stays valid as further cells are withheld, so this only
        # grows
        self.witnessed = np.zeros((R, C), dtype=bool)
        # cost of moving every cell +1 / -1, kept up to date cell by cell
        self.cu, self.cd = _move_costs(V, self.st, self.leaf, self.weight, t)
        # group-table rows and their sign in the grand-total relation
        self.top = np.arange(lay.n_areas, lay.n_rows)
        self.top_sign = np.ones(self.top.size, dtype=np.int64)
        if lay.grand:
            self.top_sign[-1] = -1
        # cheapest area of each group to carry a group-table move (built when needed):
        # real1[g, c, k] for one column, real2[g, c1, k1, c2, k2] for two (k: 0 up, 1 down)
        self.real1: np.ndarray | None = None
        self.real2: np.ndarray | None = None
        self.stale: set[int] = set()

    # -- helpers -----------------------------------------------------------------------
    def pick(self, r: Any, c: Any, d: Any) -> Any:
        """Cost of moving cell(s) (r, c) by d (+1 / -1); arguments broadcast."""
        return np.where(np.asarray(d) > 0, self.cu[r, c], self.cd[r, c])

    def withhold(self, r: int, c: int) -> None:
        if self.st[r, c] == _PUBLISHED:
            self.st[r, c] = _SECONDARY
        elif self.st[r, c] == _PRIMARY:
            self.st[r, c] = _RELABELLED
        else:  # pragma: no cover - a withheld "[c]" never has a positive cost
            raise RuntimeError("internal error: no progress in disclosure control")
        cell = (slice(r, r + 1), slice(c, c + 1))
        cu, cd = _move_costs(self.V[cell], self.st[cell], self.leaf[cell], self.weight[cell],
                             self.t)
        self.cu[r, c] = cu[0, 0]
        self.cd[r, c] = cd[0, 0]
        if r < self.lay.n_areas:
            self.stale.add(int(self.group_of[r]))

    def chain(self, r: int, c: int) -> None:
        """Fallback witness: the cell with every total it adds into, all +1 or all -1."""
        cells = [(r2, c2) for r2 in self.lay.ancestors(r, self.group_of)
                 for c2 in self.lay.chain_cols(c)]
        rows = np.array([x[0] for x in cells])
        cols = np.array([x[1] for x in cells])
        cu, cd = self.cu[rows, cols], self.cd[rows, cols]
        use = cu if cu.sum() <= cd.sum() else cd
        if not np.isfinite(use.sum()):  # pragma: no cover - impossible for t >= 3
            raise RuntimeError("internal error: no witness for a withheld count")
        for (r2, c2), cost in zip(cells, use, strict=True):
            if cost > 0:
                self.withhold(r2, c2)
        self.witnessed[r, c] = True

    # -- blocks of areas (optionally with their group row) ------------------------------
    def protect_block(self, rows: np.ndarray, row_sign: np.ndarray) -> bool:
        changed = False
        sign = row_sign[:, None] * self.col_sign[None, :]
        while True:
            cu, cd = self.cu[rows], self.cd[rows]
            CP = np.where(sign > 0, cu, cd)
            CM = np.where(sign > 0, cd, cu)
            cert = _certified(CP == 0, CM == 0, self.rect)
            todo = np.argwhere(((self.st[rows] == _PRIMARY) | (self.st[rows] == _RELABELLED))
                               & ~cert & ~self.witnessed[rows])
            if todo.size == 0:
                return changed
            for i, c in ((int(a), int(b)) for a, b in todo):
                # cells are taken in order; after a withholding the block is looked at
                # again (cells further on may now be certified)
                cost, corners = _best_witness(CP, CM, i, c, self.rect)
                if not np.isfinite(cost) and self.lay.grand:
                    # no rectangle inside the group: try one through the group table, with
                    # this area carrying its group's change
                    r = int(rows[i])
                    top_r = self.lay.group_row(int(self.group_of[r]))
                    tcost, moves = self._top_witness(top_r, c, fixed_area=r)
                    if math.isfinite(tcost):
                        self.witnessed[r, c] = True
                        if tcost > 0:
                            self._apply(moves)
                            changed = True
                            break
                        continue
                if not np.isfinite(cost):
                    self.chain(int(rows[i]), c)
                else:
                    if cost <= 0:  # pragma: no cover - would have been certified
                        raise RuntimeError("internal error: witness search disagrees")
                    for ii, cc, s in corners:
                        if (CP[ii, cc] if s > 0 else CM[ii, cc]) > 0:
                            self.withhold(int(rows[ii]), cc)
                changed = True
                break

    def _apply(self, moves: list[tuple[int, int, int]]) -> None:
        """Withhold the cells a witness needs (its cells are all different)."""
        need = [(r, c) for r, c, dx in moves if self.pick(r, c, dx) > 0]
        for r, c in need:
            self.withhold(r, c)

    # -- the group table with a grand row: witnesses realised through one area per group
    def _real_tables(self, areas: np.ndarray, starts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Per segment of ``areas`` (split at ``starts``): cheapest one/two-cell moves."""
        D = np.stack([self.cu[areas], self.cd[areas]], axis=2)  # (m, C, 2)
        real1 = np.minimum.reduceat(D, starts, axis=0)
        C = D.shape[1]
        real2 = np.empty((starts.size, C, 2, C, 2))
        for c1 in range(C):
            for k1 in range(2):
                real2[:, c1, k1] = np.minimum.reduceat(D[:, c1, k1][:, None, None] + D,
                                                       starts, axis=0)
        return real1, real2

    def _refresh(self) -> tuple[np.ndarray, np.ndarray]:
        """The realisation tables, brought up to date with the cells withheld so far."""
        lay = self.lay
        if self.real1 is None or self.real2 is None:
            order = np.argsort(self.group_of, kind="stable")
            sizes = np.array([m.size for m in lay.members], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            self.real1, self.real2 = self._real_tables(order, starts)
            self.stale.clear()
        for g in sorted(self.stale):
            r1, r2 = self._real_tables(lay.members[g], np.zeros(1, dtype=np.int64))
            self.real1[g] = r1[0]
            self.real2[g] = r2[0]
        self.stale.clear()
        return self.real1, self.real2

    def _realisation(self, g: int, c1: int, d1: int, c2: int | None, d2: int,
                     only: int | None = None) -> int:
        """The area of group g that carries the moves most cheaply (first of the cheapest)."""
        mem = self.lay.members[g] if only is None else np.array([only])
        cost = self.pick(mem, c1, d1)
        if c2 is not None:
            cost = cost + self.pick(mem, c2, d2)
        return int(mem[int(np.argmin(cost))])

    def _top_witness(self, r1: int, c1: int, fixed_area: int | None = None
                     ) -> tuple[float, list[tuple[int, int, int]]]:
        """Cheapest rectangle of the group table through (r1, c1), each group row's change
        carried by one of its areas (``fixed_area`` for row r1, if given).

        Ties go to the first candidate in the order: sign +1 then -1, second row, second
        column.
        """
        lay = self.lay
        real1, real2 = self._refresh()
        G = lay.n_groups
        p1_row = r1 - lay.n_areas
        s1 = int(self.top_sign[p1_row])
        g1 = p1_row if p1_row < G else None
        ts = self.top_sign
        cs = self.col_sign
        top = self.top
        gi = np.arange(G)
        cols: np.ndarray | None = None
        if self.rect[c1]:
            cols = np.flatnonzero(self.rect)
            cols = cols[cols != c1]
            if cols.size == 0:
                return math.inf, []
        best: tuple[float, list[tuple[int, int, int]]] = (math.inf, [])
        for sigma in (1, -1):
            d1a = sigma * s1 * int(cs[c1])  # row r1, column c1
            d1b = -sigma * ts * cs[c1]  # every second row, column c1
            k1b = (d1b[:G] < 0).astype(np.int64)
            if cols is None:
                p1 = float(self.pick(r1, c1, d1a))
                if g1 is not None:
                    p1 += float(self.pick(fixed_area, c1, d1a) if fixed_area is not None
                                else real1[g1, c1, int(d1a < 0)])
                p2 = self.pick(top, c1, d1b).astype(float)
                p2[:G] += real1[gi, c1, k1b]
                tot = p1 + p2
                tot[p1_row] = math.inf
                j = int(np.argmin(tot))
                cost = float(tot[j])
                r2, c2 = int(top[j]), None
            else:
                d2a = -sigma * s1 * cs[cols]
                d2b = sigma * ts[:, None] * cs[cols][None, :]
                p1v = self.pick(r1, c1, d1a) + self.pick(r1, cols, d2a)
                if g1 is not None:
                    if fixed_area is not None:
                        p1v = p1v + self.pick(fixed_area, c1, d1a) + self.pick(fixed_area, cols,
                                                                              d2a)
                    else:
                        p1v = p1v + real2[g1, c1, int(d1a < 0), cols,
                                               (d2a < 0).astype(np.int64)]
                p2m = (self.pick(top, c1, d1b)[:, None]
                       + self.pick(top[:, None], cols[None, :], d2b))
                p2m[:G] += real2[gi[:, None], c1, k1b[:, None], cols[None, :],
                                      (d2b[:G] < 0).astype(np.int64)]
                totm = p1v[None, :] + p2m
                totm[p1_row, :] = math.inf
                flat = int(np.argmin(totm))
                j, jj = divmod(flat, cols.size)
                cost = float(totm[j, jj])
                r2, c2 = int(top[j]), int(cols[jj])
            if not math.isfinite(cost) or not cost < best[0]:
                continue
            moves: list[tuple[int, int, int]] = []  # (row, col, X-delta)
            pairs = [(r1, sigma), (r2, -sigma)]
            for r, ys in pairs:
                rs = -1 if r == lay.grand_row and lay.grand else 1
                moves.append((r, c1, ys * rs * int(cs[c1])))
                if c2 is not None:
                    moves.append((r, c2, -ys * rs * int(cs[c2])))
            extra: list[tuple[int, int, int]] = []
            for r, _ in pairs:
                if lay.grand and r == lay.grand_row:
                    continue
                d1 = next(dx for rr, cc, dx in moves if rr == r and cc == c1)
                d2 = next((dx for rr, cc, dx in moves if rr == r and cc == c2), 0)
                area = self._realisation(r - lay.n_areas, c1, d1, c2, d2,
                                         only=fixed_area if r == r1 else None)
                extra.append((area, c1, d1))
                if c2 is not None:
                    extra.append((area, c2, d2))
            best = (cost, moves + extra)
            if cost == 0:
                return best
        return best

    def protect_top(self) -> bool:
        lay = self.lay
        n = lay.n_areas
        changed = False
        top_st = self.st[n:]
        todo = np.argwhere(((top_st == _PRIMARY) | (top_st == _RELABELLED))
                           & ~self.witnessed[n:])
        for rr, cc in todo:
            r, c = int(rr) + n, int(cc)
            cost, moves = self._top_witness(r, c)
            if cost > 0:
                if not math.isfinite(cost):
                    self.chain(r, c)
                else:
                    self._apply(moves)
                changed = True
            # a witness found (free, or paid for just now) stays valid
            self.witnessed[r, c] = True
        return changed

    def run(self) -> np.ndarray:
        lay = self.lay
        for _ in range(1000):
            changed = False
            if lay.grand:
                changed |= self.protect_top()
            for g, mem in enumerate(lay.members):
                if lay.grand:
                    rows, signs = mem, np.ones(mem.size, dtype=np.int64)
                else:
                    rows = np.append(mem, lay.group_row(g))
                    signs = np.append(np.ones(mem.size, dtype=np.int64), -1)
                changed |= self.protect_block(rows, signs)
            if not changed:
                return self.st
        raise RuntimeError("internal error: disclosure control did not settle")  # pragma: no cover


def _fail(message: str, fix: str, column: str | None = None) -> DisclosureError:
    return DisclosureError([Problem("counts table", message, fix, column=column)])


def protect_counts(
    counts: pd.DataFrame,
    *,
    groups: pd.Series | None = None,
    policy: DisclosurePolicy | None = None,
    total_label: str = "total",
    total_years: Sequence[Hashable] | None = None,
    grand_label: str | None = None,
) -> ProtectedCounts:
    """Apply primary and secondary suppression to an area x year count table.

    Parameters
    ----------
    counts : DataFrame
        Indexed by area, one column of whole-number counts per year.
    groups : Series, optional
        Group label (e.g. borough) of every area, indexed like ``counts``. Without it
        the group table has one row, all areas, labelled ``grand_label`` or
        ``"All areas"``.
    policy : DisclosurePolicy
        Threshold and mode (default threshold 5, internal).
    total_label : str
        Name of the total column added to both tables.
    total_years : sequence, optional
        The year columns that add into the total (default all).
    grand_label : str, optional
        With ``groups``: add a grand-total row with this label to the group table.

    Returns
    -------
    ProtectedCounts
    """
    policy = policy or DisclosurePolicy()
    t = int(policy.threshold)
    if not isinstance(counts, pd.DataFrame):
        raise TypeError("counts must be a DataFrame (areas x years)")
    years = list(counts.columns)
    if total_label in years:
        raise _fail(f"a year column is already called {total_label!r}.",
                    "choose another total_label.", column=str(total_label))
    if counts.index.has_duplicates:
        dup = counts.index[counts.index.duplicated()].unique().tolist()[:5]
        raise _fail(f"areas appear more than once: {dup}.", "aggregate to one row per area.")
    values = counts.to_numpy(dtype=float, na_value=np.nan)
    if values.size and (np.isnan(values).any() or (values < 0).any()
                        or (values != np.round(values)).any()):
        raise _fail("counts must be whole numbers >= 0 with no gaps.",
                    "fill areas and years with no incidents with 0.")
    V_area = values.astype(np.int64)
    sel = list(years) if total_years is None else list(total_years)
    missing = [y for y in sel if y not in years]
    if missing:
        raise _fail(f"total_years names columns that are not in the table: {missing}.",
                    "use year columns of the counts table.")
    in_total = np.array([y in sel for y in years], dtype=bool)
    if groups is None:
        labels = [grand_label or "All areas"]
        group_of = np.zeros(len(counts), dtype=np.int64)
        grand = False
    else:
        g = groups.reindex(counts.index)
        if g.isna().any():
            bad = g.index[g.isna()].tolist()
            raise _fail(f"{len(bad)} areas have no group, e.g. {bad[:5]}.",
                        "give every area a group (e.g. its borough).")
        labels = sorted(pd.unique(g.astype(str)).tolist())
        pos = {lab: k for k, lab in enumerate(labels)}
        group_of = np.array([pos[str(x)] for x in g], dtype=np.int64)
        grand = grand_label is not None
        if grand and grand_label in labels:
            raise _fail(f"grand_label {grand_label!r} is also a group name.",
                        "choose another grand_label.")
    members = [np.flatnonzero(group_of == k) for k in range(len(labels))]
    lay = _Layout(n_areas=len(counts), n_groups=len(labels), grand=grand, n_years=len(years),
                  in_total=np.append(in_total, False), members=members)

    area_full = np.column_stack([V_area, V_area[:, in_total].sum(axis=1)])
    group_full = np.vstack([area_full[m].sum(axis=0) for m in members]) if members else \
        np.zeros((0, len(years) + 1), dtype=np.int64)
    blocks = [area_full, group_full]
    if grand:
        blocks.append(group_full.sum(axis=0, keepdims=True))
    V = np.vstack(blocks).astype(np.int64)

    cols = [*years, total_label]
    row_labels = list(labels) + ([grand_label] if grand else [])
    if policy.mode == "public":
        empty_a = pd.DataFrame(index=counts.index)
        empty_g = pd.DataFrame(index=pd.Index(row_labels))
        return ProtectedCounts(empty_a, empty_g, empty_a.copy(), empty_a.copy(), empty_g.copy(),
                               empty_g.copy(), 0, 0, 0, t, policy.mode, total_label, tuple(sel),
                               groups, grand_label if groups is not None else None)

    st = _Protector(V, lay, group_of, t).run()
    text = np.where(st == _PUBLISHED, V.astype(str),
                    np.where(st == _PRIMARY, small_marker(t), WITHHELD))
    n = lay.n_areas

    def frame(a: np.ndarray, index: Any) -> pd.DataFrame:
        return pd.DataFrame(a, index=index, columns=cols)

    g_index = pd.Index(row_labels, name=groups.name if groups is not None else None)
    prim = (st == _PRIMARY) | (st == _RELABELLED)
    sec = st == _SECONDARY
    return ProtectedCounts(
        area_table=frame(text[:n], counts.index),
        group_table=frame(text[n:], g_index),
        area_primary=frame(prim[:n], counts.index),
        area_secondary=frame(sec[:n], counts.index),
        group_primary=frame(prim[n:], g_index),
        group_secondary=frame(sec[n:], g_index),
        primary_cells=int(prim.sum()),
        secondary_cells=int(sec.sum()),
        relabelled_cells=int((st == _RELABELLED).sum()),
        threshold=t,
        mode=policy.mode,
        total_label=total_label,
        total_years=tuple(sel),
        groups=groups,
        grand_label=grand_label if groups is not None else None,
    )


# --------------------------------------------------------------------------------------
# Independent check: the differencing attack, by linear programming
# --------------------------------------------------------------------------------------


def _parse(text: Any, *, t: int, leaf: bool) -> tuple[float, float, bool]:
    """Bounds a reader can put on one published cell: (low, high, withheld)."""
    s = str(text).strip()
    if s == small_marker(t):
        return 1.0, float(t - 1), True
    if s == WITHHELD:
        return (float(t) if leaf else 1.0), math.inf, True
    if s.isdigit():
        v = float(int(s))
        if 0 < v < t:
            raise DisclosureError([Problem("published table", f"the count {s} is below the "
                                           f"threshold {t} but is shown.", "suppress it.")])
        return v, v, False
    raise DisclosureError([Problem("published table", f"unknown cell text {s!r}.",
                                   f"use '0', a count, '{small_marker(t)}' or '{WITHHELD}'.")])


def find_disclosures(
    area_table: pd.DataFrame,
    group_table: pd.DataFrame,
    *,
    groups: pd.Series | None,
    threshold: int,
    total_label: str = "total",
    total_years: Sequence[Hashable] | None = None,
    grand_label: str | None = None,
) -> list[Disclosure]:
    """Try the differencing attack on published tables; list every count it reveals.

    For each withheld cell, the range of values consistent with every published
    number, every additive relation and the marker bounds (``<t``: 1..t-1; ``[c]``:
    at least t on an area-year cell, at least 1 on a total) is found by linear
    programming (HiGHS). A cell whose range is a single value from 1 to t-1 is a
    disclosure. One pair of LPs per withheld cell: meant for small tables.

    Parameters
    ----------
    area_table, group_table : DataFrame
        As in :class:`ProtectedCounts`.
    groups : Series or None
        Group of every area (None: the group table has one row, all areas).
    threshold : int
    total_label : str
    total_years : sequence, optional
        Year columns that add into the total (default all).
    grand_label : str, optional
        Label of the grand-total row of the group table, if it has one.

    Returns
    -------
    list of Disclosure
    """
    t = int(threshold)
    years = [c for c in area_table.columns if c != total_label]
    if list(group_table.columns) != list(area_table.columns) or total_label not in area_table:
        raise _fail("the area and group tables need the same columns, including the total.",
                    "pass the tables returned by protect_counts.")
    sel = set(years if total_years is None else total_years)
    n = len(area_table)
    if groups is None:
        if len(group_table) != 1:
            raise _fail("without groups the group table must have one row.", "pass groups.")
        gidx = np.zeros(n, dtype=np.int64)
        group_rows: list[Hashable] = [group_table.index[0]]
        grand_row = None
    else:
        group_rows = [r for r in group_table.index if not (grand_label is not None
                                                            and r == grand_label)]
        pos = {str(r): k for k, r in enumerate(group_rows)}
        gidx = np.array([pos[str(x)] for x in groups.reindex(area_table.index)], dtype=np.int64)
        grand_row = grand_label if grand_label is not None else None

    # One entry per cell: (table, row label, column, low, high, withheld, check)
    cells: list[tuple[str, Hashable, Hashable, float, float, bool]] = []
    cell_id: dict[tuple[str, Hashable, Hashable], int] = {}

    def add(table: str, frame: pd.DataFrame, row: Hashable, leaf_row: bool) -> None:
        for col in frame.columns:
            lo, hi, wh = _parse(frame.at[row, col], t=t, leaf=leaf_row and col != total_label)
            cell_id[(table, row, col)] = len(cells)
            cells.append((table, row, col, lo, hi, wh))

    for r in area_table.index:
        add("areas", area_table, r, True)
    for r in group_table.index:
        add("groups", group_table, r, False)

    lines: list[tuple[list[int], int]] = []  # (members, total)
    for table, frame in (("areas", area_table), ("groups", group_table)):
        for r in frame.index:
            lines.append(([cell_id[(table, r, y)] for y in years if y in sel],
                          cell_id[(table, r, total_label)]))
    for col in [*years, total_label]:
        for k, grow in enumerate(group_rows):
            mem = [cell_id[("areas", a, col)] for a, gi in zip(area_table.index, gidx, strict=True)
                   if gi == k]
            lines.append((mem, cell_id[("groups", grow, col)]))
        if grand_row is not None:
            lines.append(([cell_id[("groups", gr, col)] for gr in group_rows],
                          cell_id[("groups", grand_row, col)]))

    var_of = {i: k for k, i in enumerate(i for i, c in enumerate(cells) if c[5])}
    nv = len(var_of)
    if nv == 0:
        return []
    rows_i: list[int] = []
    cols_j: list[int] = []
    vals: list[float] = []
    rhs: list[float] = []
    for members, total in lines:
        terms = [(m, 1.0) for m in members] + [(total, -1.0)]
        const = sum(-s * cells[m][3] for m, s in terms if not cells[m][5])
        var_terms = [(var_of[m], s) for m, s in terms if cells[m][5]]
        if not var_terms:
            if abs(const) > 1e-9:
                raise _fail("the published numbers do not add up.",
                            "pass the tables exactly as protect_counts returned them.")
            continue
        k = len(rhs)
        for j, s in var_terms:
            rows_i.append(k)
            cols_j.append(j)
            vals.append(s)
        rhs.append(const)
    A = sparse.csr_matrix((vals, (rows_i, cols_j)), shape=(len(rhs), nv))
    b = np.array(rhs)
    # split into independent pieces: variables linked through shared lines
    link = (A.T @ A) if A.shape[0] else sparse.csr_matrix((nv, nv))
    ncomp, comp = connected_components(link != 0, directed=False)
    var_cells = sorted(var_of, key=var_of.__getitem__)
    found: list[Disclosure] = []
    for k in range(ncomp):
        vs = np.flatnonzero(comp == k)
        rows_k = np.unique(A[:, vs].nonzero()[0])
        Ak = A[rows_k][:, vs]
        bk = b[rows_k]
        bounds = [(cells[var_cells[v]][3], None if math.isinf(cells[var_cells[v]][4])
                   else cells[var_cells[v]][4]) for v in vs]
        for jj, v in enumerate(vs):
            table, row, col, _lo, _hi, _ = cells[var_cells[v]]
            obj = np.zeros(vs.size)
            obj[jj] = 1.0
            extremes = []
            for direction in (1.0, -1.0):
                res = linprog(direction * obj, A_eq=Ak if Ak.shape[0] else None,
                              b_eq=bk if Ak.shape[0] else None, bounds=bounds, method="highs")
                if res.status == 2:
                    raise _fail("the published tables are inconsistent (no table fits them).",
                                "pass the tables exactly as protect_counts returned them.")
                extremes.append(math.inf if res.status == 3 else direction * res.fun)
            low = math.ceil(extremes[0] - 1e-6)
            high = extremes[1] if math.isinf(extremes[1]) else math.floor(extremes[1] + 1e-6)
            if low == high and 1 <= low <= t - 1:
                frame = area_table if table == "areas" else group_table
                found.append(Disclosure(table, row, col, str(frame.at[row, col]), int(low)))
    return found


# --------------------------------------------------------------------------------------
# Rates, public view and the report
# --------------------------------------------------------------------------------------


def _count_published(count: Any, t: int) -> bool:
    if isinstance(count, str):
        s = count.strip()
        return s.isdigit() and (int(s) == 0 or int(s) >= t)
    if count is None or count is pd.NA or (isinstance(count, float | np.floating)
                                           and math.isnan(count)):
        return False
    return bool(count == 0 or count >= t)


def mask_rate(rate: Any, count: Any, *, threshold: int) -> Any:
    """Withhold rates computed from a withheld count.

    Parameters
    ----------
    rate : float, array or Series
        Rates (e.g. fires per 1,000 households) computed from ``count``.
    count : int, str, array or Series
        The counts behind them, as numbers (1..t-1 or NaN means withheld) or as
        published text (anything but ``"0"`` or a count of at least t means withheld).
    threshold : int

    Returns
    -------
    float or Series
        The rate, or NaN where its count is withheld.
    """
    t = int(threshold)
    if np.ndim(rate) == 0 and np.ndim(count) == 0:
        return float(rate) if _count_published(count, t) else math.nan
    rates = pd.Series(rate, dtype=float) if not isinstance(rate, pd.Series) else rate.astype(float)
    counts = count if isinstance(count, pd.Series) else pd.Series(list(count), index=rates.index)
    if len(counts) != len(rates):
        raise _fail("rate and count have different lengths.", "pass matching columns.")
    ok = np.array([_count_published(c, t) for c in counts], dtype=bool)
    return rates.where(ok)


def public_view(df: pd.DataFrame, *, count_columns: Sequence[str],
                rate_columns: Sequence[str]) -> pd.DataFrame:
    """The public-mode table: bands and ranks only, no counts or rates from incidents.

    Parameters
    ----------
    df : DataFrame
        A results table.
    count_columns, rate_columns : sequence of str
        Columns holding observed counts and rates computed from them. Every one must
        exist (a misspelt name would otherwise leave real counts in the output).

    Returns
    -------
    DataFrame
        A copy without those columns.
    """
    drop = [*count_columns, *rate_columns]
    missing = [c for c in drop if c not in df.columns]
    if missing:
        raise _fail(f"columns to remove are not in the table: {missing}.",
                    "name the count and rate columns exactly.")
    return df.drop(columns=drop).copy()


@dataclass(frozen=True)
class DisclosureReport:
    """The statement that goes with every export."""

    threshold: int
    mode: str
    primary_cells: int
    secondary_cells: int
    person_level_data_read: bool = False
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_protected(cls, protected: ProtectedCounts, *, person_level_data_read: bool = False,
                       notes: Sequence[str] = ()) -> DisclosureReport:
        """Build the report for the tables returned by :func:`protect_counts`."""
        extra = list(notes)
        if protected.relabelled_cells:
            extra.append(f"{protected.relabelled_cells:,} small totals are shown as "
                         f"'{WITHHELD}' rather than '{small_marker(protected.threshold)}'.")
        return cls(threshold=protected.threshold, mode=protected.mode,
                   primary_cells=protected.primary_cells,
                   secondary_cells=protected.secondary_cells,
                   person_level_data_read=person_level_data_read, notes=tuple(extra))

    def to_text(self) -> str:
        """Plain-language report, one statement per line."""
        t = self.threshold
        lines = ["Disclosure control"]
        if self.mode == "public":
            lines.append("Mode: public. Only priority bands and ranks are shown: no incident "
                         "counts, and no rates computed from them.")
        else:
            lines.append("Mode: internal (for fire and rescue service staff).")
        lines.append(f"Threshold: {t}. Counts from 1 to {t - 1} are shown as "
                     f"'{small_marker(t)}'; zeros are shown as 0.")
        if self.mode == "public":
            lines.append("Cells withheld: all (no count tables are published in public mode).")
        else:
            lines.append(f"Cells withheld: {self.primary_cells:,} small counts (primary "
                         f"suppression) and {self.secondary_cells:,} further cells shown as "
                         f"'{WITHHELD}' (secondary suppression), so that no withheld count can "
                         "be worked out from the totals.")
        if self.person_level_data_read:
            lines.append("WARNING: person-level data was read. Do not share this output.")
        else:
            lines.append("Person-level data: none read. Incidents were counted by area as the "
                         "file was read; no incident rows or locations are kept or exported, "
                         "and the personal-data check passed on every input.")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, str]:
        """Key/value pairs for the results file's ``run`` layer."""
        return {
            "threshold": str(self.threshold),
            "mode": self.mode,
            "primary_cells": str(self.primary_cells),
            "secondary_cells": str(self.secondary_cells),
            "person_level_data_read": str(self.person_level_data_read).lower(),
            "notes": " | ".join(self.notes),
            "text": self.to_text(),
        }
