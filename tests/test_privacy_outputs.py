"""Privacy and disclosure guarantees, checked end to end on every output (issue 5).

Small synthetic datasets (a grid of square areas with incidents placed inside them) are built
by the real pipeline. The true counts are worked out here, independently, from the points
written to the incident file (point-in-square arithmetic). Every output is then read back and
attacked: the results GeoPackage (every layer), the target-list CSV, the map, atlas and
explainer PDFs (their text layer) and the reason sentences. No count from 1 to t-1 may be
readable: not directly, not by differencing the published tables, and not from what the
reason sentences add to them. The real London results are scanned for incident-level data,
the provenance register is checked against the input files, and the personal-data guard is
run end to end. ``docs/privacy_section.md`` maps every guarantee to the test here that
proves it.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import io
import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pypdf
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from firerisk.columns import uncertainty_columns
from firerisk.errors import PersonalDataError
from firerisk.geo.results import Results, read_results
from firerisk.pipeline import build
from firerisk.risk.disclosure import find_disclosures

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
INCIDENTS_GZ = SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz"

# -- the synthetic grid -------------------------------------------------------------------

X0, Y0, SIDE = 530_000, 180_000, 500  # British National Grid metres (central London)
GRAND = "All areas"
WITHHELD = "[c]"
#: Layers a results file may hold. A new layer must be reviewed for privacy and added here.
KNOWN_LAYERS = {"areas", "targets", "run", "provenance", "band_breaks", "coefficients",
                "group_counts", "evaluation", "evaluation_curve", "model_comparison",
                "layer_styles"}  # layer_styles: the QGIS style (band labels and colours)
#: Columns that publish model outputs derived from incidents (absent in public mode).
RATE_COLUMNS = ("expected", "risk_per_1000", "pi_low", "pi_high", "p_top10")
#: Words that must not name a column of any results layer (incident-level fields).
INCIDENT_WORDS = {"x", "y", "easting", "northing", "lat", "lon", "lng", "latitude", "longitude",
                  "date", "datetime", "time", "timestamp", "address", "postcode", "uprn",
                  "rounded"}
HISTORY_SENTENCE = re.compile(
    r"^(?P<n>\S+) fires? in the last (?P<k>\d+) years \(typical for this many homes: "
    r"(?P<e>\d+)\)$")
FIRE_COUNT = re.compile(r"(?<![<\w.,])(\d[\d,]*)\s+(?:dwelling\s+)?(?:fires?|incidents?)\b",
                        re.IGNORECASE)


@dataclass(frozen=True)
class Grid:
    """A synthetic dataset: ``nx`` x ``ny`` square areas, incident counts per area and year.

    ``counts[k][y]`` is the number of incidents placed in area ``k`` in year
    ``first_year + y``; the last year is partial (January to June). Areas are numbered
    column by column; a column of squares belongs to one group (``borough``).
    """

    counts: tuple[tuple[int, ...], ...]
    households: tuple[int, ...]
    threshold: int
    mode: str = "internal"
    nx: int = 5
    ny: int = 4
    n_groups: int = 2
    first_year: int = 2015
    history_years: int = 3
    seed: int = 0
    extra: tuple[tuple[str, str], ...] = field(default=())  # (column, kind) added to incidents
    drop: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # area names (default "Square k")

    @property
    def n_areas(self) -> int:
        return self.nx * self.ny

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.first_year + len(self.counts[0])))

    @property
    def full_years(self) -> list[int]:
        return self.years[:-1]

    @property
    def recent(self) -> list[int]:
        return self.full_years[-self.history_years:]

    def area_id(self, k: int) -> str:
        return f"A{k:02d}"

    def group(self, k: int) -> str:
        i = k // self.ny
        return f"Group {min(i * self.n_groups // self.nx, self.n_groups - 1) + 1}"


def grid_from_rows(rows: Sequence[str], *, households: Sequence[int], **kw: Any) -> Grid:
    """A grid from one digit string per area (``"31200110"``: counts by year)."""
    return Grid(counts=tuple(tuple(int(c) for c in r) for r in rows),
                households=tuple(households), **kw)


def _provenance(who: str) -> str:
    return (f'publisher = "{who} publisher"\nlicence = "Test licence {who}"\n'
            f'attribution = "Attribution for the {who} input, test {who} data."\n'
            'date = "2024"\n')


def write_grid(folder: Path, grid: Grid) -> Path:
    """Write the areas, incidents, covariates and profile of *grid*; return the profile."""
    import geopandas as gpd
    from shapely.geometry import box

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(grid.seed)
    ids = [grid.area_id(k) for k in range(grid.n_areas)]
    geoms = []
    for k in range(grid.n_areas):
        i, j = divmod(k, grid.ny)
        geoms.append(box(X0 + i * SIDE, Y0 + j * SIDE, X0 + (i + 1) * SIDE, Y0 + (j + 1) * SIDE))
    names = list(grid.names) or [f"Square {k}" for k in range(grid.n_areas)]
    gpd.GeoDataFrame({"code": ids, "label": names,
                      "grp": [grid.group(k) for k in range(grid.n_areas)]},
                     geometry=geoms, crs=27700).to_file(folder / "areas.geojson",
                                                        driver="GeoJSON")
    partial_year = grid.years[-1]
    study_end = pd.Timestamp(partial_year, 6, 30)
    rows: list[tuple[int, int, str]] = []
    for k in range(grid.n_areas):
        i, j = divmod(k, grid.ny)
        for year, n in zip(grid.years, grid.counts[k], strict=True):
            start = pd.Timestamp(year, 1, 1)
            days = (study_end - start).days + 1 if year == partial_year else 365
            for m in range(n):
                # strictly inside the square: never on a shared edge
                x = X0 + i * SIDE + int(rng.integers(1, SIDE))
                y = Y0 + j * SIDE + int(rng.integers(1, SIDE))
                # the study's first day and last day each get an incident, so the first
                # year counts as a full year and the data reach into the partial year
                if k == 0 and m == 0 and year == grid.first_year:
                    day = 0
                elif k == 0 and m == 0 and year == partial_year:
                    day = days - 1
                else:
                    day = int(rng.integers(0, days))
                rows.append((x, y, (start + pd.Timedelta(days=day)).strftime("%Y-%m-%d")))
    incidents = pd.DataFrame(rows, columns=["easting", "northing", "date"])
    incidents = incidents.sample(frac=1.0, random_state=grid.seed).reset_index(drop=True)
    for column, kind in grid.extra:
        incidents[column] = personal_values(kind, len(incidents))
    incidents.to_csv(folder / "incidents.csv", index=False)
    hh = np.asarray(grid.households)
    pd.DataFrame({"code": ids, "households": hh,
                  "imd_score": np.round(rng.uniform(5, 60, grid.n_areas), 2),
                  "flats": np.round(hh * rng.uniform(0.1, 0.9, grid.n_areas)).astype(int)}
                 ).to_csv(folder / "covariates.csv", index=False)
    profile = f"""
name = "Privacy test grid"
service = "Test fire service"
contact = "Test contact"
working_crs = "EPSG:27700"
[areas]
path = "areas.geojson"
id = "code"
name = "label"
crs = "EPSG:27700"
groups = {{ borough = "grp" }}
[areas.provenance]
{_provenance("areas")}
[incidents]
path = "incidents.csv"
x = "easting"
y = "northing"
crs = "EPSG:27700"
date = "date"
date_format = "%Y-%m-%d"
drop_columns = {json.dumps(list(grid.drop))}
[incidents.provenance]
{_provenance("incidents")}
[[covariates]]
name = "census"
path = "covariates.csv"
key = "code"
[covariates.provenance]
{_provenance("census")}
[exposure]
column = "households"
[features.imd_score]
column = "imd_score"
label = "Deprivation score"
unit = "score"
[features.flat_share]
numerator = ["flats"]
denominator = "households"
label = "Households living in flats"
unit = "percent"
[study]
start = {grid.first_year}-01-01
end = {study_end.strftime("%Y-%m-%d")}
history_years = {grid.history_years}
[model]
family = "poisson"
simulations = 200
[disclosure]
threshold = {grid.threshold}
mode = "{grid.mode}"
"""
    (folder / "profile.toml").write_text(profile, encoding="utf-8")
    return folder / "profile.toml"


STREETS = ("Quillfeather Lane", "Marrowby Close", "Tenterhook Road", "Ashgrove Mews")
POSTCODES = ("SE1 7PB", "N1 9GU", "E8 3RL", "SW11 4NJ", "W2 1HB", "NW5 2TX")


def personal_values(kind: str, n: int) -> list[str]:
    """A column of fake personal data: house addresses or full postcodes."""
    if kind == "address":
        return [f"{7 + k % 90} {STREETS[k % len(STREETS)]}" for k in range(n)]
    return [POSTCODES[k % len(POSTCODES)] for k in range(n)]


def true_counts(folder: Path, grid: Grid) -> pd.DataFrame:
    """Incidents per area and year, counted here from the points in the incident file."""
    inc = pd.read_csv(folder / "incidents.csv", dtype={"date": str})
    col = (inc["easting"].to_numpy() - X0) // SIDE
    row = (inc["northing"].to_numpy() - Y0) // SIDE
    assert ((col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)).all()
    area = [grid.area_id(int(k)) for k in col * grid.ny + row]
    year = inc["date"].str.slice(0, 4).astype(int)
    table = pd.crosstab(pd.Index(area, name="area_id"), year.to_numpy())
    ids = [grid.area_id(k) for k in range(grid.n_areas)]
    table = table.reindex(index=ids, columns=grid.years, fill_value=0)
    out = table.rename(columns=lambda y: f"obs_{y}")
    out["obs_recent"] = table[grid.recent].sum(axis=1)
    return out.astype(int)


def true_group_counts(truth: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    groups = pd.Series([grid.group(k) for k in range(grid.n_areas)], index=truth.index)
    table = truth.groupby(groups).sum()
    table.loc[GRAND] = truth.sum()
    return table


# -- reading outputs back -----------------------------------------------------------------


def read_layers(gpkg: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str | None]]:
    """Every layer of a GeoPackage as a table (no geometry), and each layer's geometry type."""
    kinds = {str(name): (None if g is None else str(g)) for name, g in pyogrio.list_layers(gpkg)}
    tables = {name: pd.DataFrame(pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False))
              for name in kinds}
    return tables, kinds


def pdf_text(data: bytes) -> str:
    """The text layer of a PDF, whitespace collapsed."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def obs_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if str(c).startswith("obs_")]


def cell_bounds(text: Any, *, t: int, leaf: bool) -> tuple[int, float] | None:
    """What a reader learns from one published count cell: (low, high); None if not allowed.

    ``0`` and counts of at least t are exact; ``<t`` is 1..t-1; ``[c]`` is at least t on an
    area-year cell and at least 1 on a total.
    """
    if not isinstance(text, str):
        return None
    s = text.strip()
    if s == "0":
        return 0, 0
    if s == f"<{t}":
        return 1, t - 1
    if s == WITHHELD:
        return (t if leaf else 1), math.inf
    if s.isdigit() and int(s) >= t:
        return int(s), int(s)
    return None


def check_count_table(published: pd.DataFrame, truth: pd.DataFrame, *, t: int, name: str,
                      total: str = "obs_recent") -> list[str]:
    """Every cell is an allowed marker that the true count satisfies."""
    problems = []
    if set(published.columns) != set(truth.columns):
        problems.append(f"{name}: count columns {sorted(published.columns)} differ from "
                        f"{sorted(truth.columns)}")
        return problems
    for row in published.index:
        for col in published.columns:
            text = published.at[row, col]
            leaf = col != total and name == "areas"
            bounds = cell_bounds(text, t=t, leaf=leaf)
            value = int(truth.at[row, col])
            if bounds is None:
                problems.append(f"{name} {row} {col}: {text!r} is not '0', '<{t}', "
                                f"'{WITHHELD}' or a count >= {t}")
            elif not bounds[0] <= value <= bounds[1]:
                problems.append(f"{name} {row} {col}: published {text!r} but the true count "
                                f"is {value}")
    return problems


def history_bounds(areas: pd.DataFrame, *, t: int, history_years: int
                   ) -> tuple[dict[str, int], list[str]]:
    """Lower bounds on ``obs_recent`` that the history sentences add, and their problems.

    A sentence "N fires in the last k years (typical for this many homes: E)" is written only when the area's
    count is above E, so a reader learns ``obs_recent >= E + 1``.
    """
    lower: dict[str, int] = {}
    problems: list[str] = []
    for _, row in areas.iterrows():
        for col in ("reason_1", "reason_2", "reason_3"):
            text = row.get(col)
            if not isinstance(text, str):
                continue
            m = HISTORY_SENTENCE.match(text.strip())
            if m is None:
                continue
            shown, expected = m.group("n"), int(m.group("e"))
            published = row.get("obs_recent")
            area = str(row["area_id"])
            if int(m.group("k")) != history_years:
                problems.append(f"{area}: {text!r} speaks of {m.group('k')} years, the total "
                                f"covers {history_years}")
            if shown != ("Some" if published == WITHHELD else published):
                problems.append(f"{area}: {text!r} shows {shown!r}; the table shows "
                                f"{published!r}")
            bounds = cell_bounds(published, t=t, leaf=False)
            lower[area] = expected + 1
            if bounds is not None:
                lo, hi = max(bounds[0], expected + 1), bounds[1]
                if lo == hi and 1 <= lo < t:
                    problems.append(
                        f"{area}: {text!r} pins a withheld count: the table shows "
                        f"{published!r} (1 to {t - 1}) and the sentence is only written when "
                        f"the count is above {expected}, so it is exactly {lo}")
    return lower, problems


def sentence_problems(texts: Iterable[str], *, t: int, where: str) -> list[str]:
    """Statements of a number of fires from 1 to t-1."""
    problems = []
    for text in texts:
        if not isinstance(text, str):
            continue
        for m in FIRE_COUNT.finditer(text):
            n = int(m.group(1).replace(",", ""))
            if 1 <= n < t:
                start = max(0, m.start() - 40)
                problems.append(f"{where}: states a count of {n} "
                                f"(…{text[start:m.end() + 20]}…)")
    return problems


# -- the reader's attack: exact integer ranges (independent of risk.disclosure) ------------


@dataclass
class Tables:
    """Published area and group tables, with everything the reader knows about them."""

    areas: pd.DataFrame  # text cells, index area_id
    groups: pd.DataFrame  # text cells, index group label (+ grand row)
    group_of: pd.Series  # group of every area
    total: str
    total_years: list[str]
    t: int

    def cells(self) -> list[tuple[str, str, str]]:
        out = [("a", str(r), str(c)) for r in self.areas.index for c in self.areas.columns]
        out += [("g", str(r), str(c)) for r in self.groups.index for c in self.groups.columns]
        return out

    def text(self, cell: tuple[str, str, str]) -> str:
        frame = self.areas if cell[0] == "a" else self.groups
        return str(frame.at[cell[1], cell[2]])

    def leaf(self, cell: tuple[str, str, str]) -> bool:
        return cell[0] == "a" and cell[2] != self.total

    def relations(self) -> list[tuple[list[tuple[str, str, str]], tuple[str, str, str]]]:
        """(parts, whole) for every additive relation a reader can check."""
        rel = []
        for kind, frame in (("a", self.areas), ("g", self.groups)):
            for r in frame.index:
                rel.append(([(kind, str(r), y) for y in self.total_years],
                            (kind, str(r), self.total)))
        groups = [g for g in self.groups.index if g != GRAND]
        for col in self.areas.columns:
            for g in groups:
                members = [str(a) for a in self.areas.index if self.group_of[a] == g]
                rel.append(([("a", a, str(col)) for a in members], ("g", str(g), str(col))))
            rel.append(([("g", str(g), str(col)) for g in groups], ("g", GRAND, str(col))))
        return rel


Cell = tuple[str, str, str]  # ("a" area or "g" group, row, column)


def pinned_cells(tables: Tables, truth: dict[Cell, int], lower: dict[str, int]) -> list[str]:
    """:func:`pinned_small_cells` as messages."""
    return [f"{'areas' if kind == 'a' else 'groups'} table, row {row}, column {col}: shown as "
            f"{tables.text((kind, row, col))!r} but the published figures force it to be {v}"
            for kind, row, col, v in pinned_small_cells(tables, truth, lower)]


def pinned_small_cells(tables: Tables, truth: dict[Cell, int], lower: dict[str, int]
                       ) -> list[tuple[str, str, str, int]]:
    """Withheld small counts a reader can pin, by exact integer programming (HiGHS MILP).

    The reader knows every published number, every additive relation, the marker bounds and
    the lower bounds the history sentences add to area totals. A withheld small cell with
    true value v is pinned when no integer table consistent with all of that has it below v
    and none has it above v.
    """
    t = tables.t
    cells = tables.cells()
    bounds = {}
    for cell in cells:
        b = cell_bounds(tables.text(cell), t=t, leaf=tables.leaf(cell))
        assert b is not None, f"unexpected cell text {tables.text(cell)!r} at {cell}"
        lo, hi = b
        if cell[0] == "a" and cell[2] == tables.total and cell[1] in lower:
            lo = max(lo, lower[cell[1]])
        bounds[cell] = (lo, hi)
        assert lo <= truth[cell] <= hi, f"the true count breaks the published bounds at {cell}"
    free = [c for c in cells if bounds[c][0] != bounds[c][1]]
    index = {c: i for i, c in enumerate(free)}
    if not free:
        return []
    rels = tables.relations()
    a = lil_matrix((len(rels), len(free)))
    rhs = np.zeros(len(rels))
    for k, (parts, whole) in enumerate(rels):
        for cell, sign in [*((p, 1.0) for p in parts), (whole, -1.0)]:
            if cell in index:
                a[k, index[cell]] += sign
            else:
                rhs[k] -= sign * bounds[cell][0]
    big = 10 * (sum(truth.values()) + 10)
    low = np.array([bounds[c][0] for c in free], dtype=float)
    high = np.array([min(bounds[c][1], big) for c in free], dtype=float)
    constraint = LinearConstraint(a.tocsr(), rhs, rhs)
    ones = np.ones(len(free))

    def feasible(lo_: np.ndarray, hi_: np.ndarray) -> bool:
        res = milp(np.zeros(len(free)), constraints=constraint, integrality=ones,
                   bounds=Bounds(lo_, hi_))
        return bool(res.status == 0)

    true_vec = np.array([truth[c] for c in free], dtype=float)
    assert feasible(true_vec, true_vec), "the true table does not fit the relations"
    problems: list[tuple[str, str, str, int]] = []
    for cell, i in index.items():
        v = truth[cell]
        if not 1 <= v < t:
            continue
        moves = []
        if v - 1 >= low[i]:
            below = high.copy()
            below[i] = v - 1
            moves.append((low, below))
        if v + 1 <= high[i]:
            above = low.copy()
            above[i] = v + 1
            moves.append((above, high))
        if not any(feasible(x, y) for x, y in moves):
            problems.append((*cell, v))
    return problems


def brute_force_ranges(tables: Tables, lower: dict[str, int]) -> dict[tuple[str, str, str],
                                                                        set[int]]:
    """Every value each withheld area-level cell can take, by enumerating whole tables.

    Area-year cells are enumerated; totals and group rows are sums. An upper cap on a
    ``[c]`` cell (the column's grand total when published, else 30) can only narrow the
    ranges, so it can only add false alarms, never hide a pinned cell.
    """
    t = tables.t
    years = [str(c) for c in tables.areas.columns if c != tables.total]
    cols = [*years, tables.total]
    grand = tables.groups.loc[GRAND]

    def domain(text: str, col: str) -> list[int]:
        b = cell_bounds(text, t=t, leaf=True)
        assert b is not None
        lo, hi = b
        if math.isinf(hi):
            g = cell_bounds(str(grand[col]), t=t, leaf=False)
            assert g is not None
            hi = g[1] if not math.isinf(g[1]) else 30
        return list(range(int(lo), int(hi) + 1))

    def fits(value: int, text: str, *, low: int = 0) -> bool:
        b = cell_bounds(text, t=t, leaf=False)
        assert b is not None
        return max(b[0], low) <= value <= b[1]

    rows: dict[str, list[tuple[int, ...]]] = {}
    for area in tables.areas.index:
        area = str(area)
        doms = [domain(str(tables.areas.at[area, y]), y) for y in years]
        keep = []
        for cells in itertools.product(*doms):
            total = sum(v for v, y in zip(cells, years, strict=True)
                        if y in tables.total_years)
            if fits(total, str(tables.areas.at[area, tables.total]),
                    low=lower.get(area, 0)):
                keep.append((*cells, total))
        rows[area] = keep
    # each group's solutions, bucketed by their column sums (all the grand row sees)
    buckets: dict[str, dict[tuple[int, ...], list[tuple[tuple[int, ...], ...]]]] = {}
    members_of: dict[str, list[str]] = {}
    for g in tables.groups.index:
        if g == GRAND:
            continue
        members = [str(a) for a in tables.areas.index if tables.group_of[a] == g]
        members_of[str(g)] = members
        found: dict[tuple[int, ...], list[tuple[tuple[int, ...], ...]]] = {}
        for member_rows in itertools.product(*(rows[a] for a in members)):
            sums = tuple(sum(r[j] for r in member_rows) for j in range(len(cols)))
            if all(fits(v, str(tables.groups.at[g, c])) for v, c in zip(sums, cols, strict=True)):
                found.setdefault(sums, []).append(member_rows)
        buckets[str(g)] = found
    names = list(buckets)
    usable: dict[str, set[tuple[int, ...]]] = {g: set() for g in names}
    for keys in itertools.product(*(buckets[g] for g in names)):
        totals = [sum(k[j] for k in keys) for j in range(len(cols))]
        if all(fits(v, str(grand[c])) for v, c in zip(totals, cols, strict=True)):
            for g, k in zip(names, keys, strict=True):
                usable[g].add(k)
    seen: dict[tuple[str, str, str], set[int]] = {}
    for g in names:
        for key in usable[g]:
            for member_rows in buckets[g][key]:
                for area, values in zip(members_of[g], member_rows, strict=True):
                    for col, v in zip(cols, values, strict=True):
                        seen.setdefault(("a", area, col), set()).add(v)
    return seen


# -- building and checking every output ---------------------------------------------------


@dataclass
class Built:
    grid: Grid
    folder: Path
    gpkg: Path
    truth: pd.DataFrame
    results: Results
    layers: dict[str, pd.DataFrame]
    kinds: dict[str, str | None]


def build_grid(folder: Path, grid: Grid) -> Built:
    profile = write_grid(folder, grid)
    gpkg = build(profile, folder / "results.gpkg", evaluate=False)
    layers, kinds = read_layers(gpkg)
    return Built(grid, folder, gpkg, true_counts(folder, grid), read_results(gpkg), layers,
                 kinds)


def published_tables(built: Built) -> Tables:
    areas = built.layers["areas"].set_index("area_id")
    groups = built.layers["group_counts"].set_index("borough")
    recent = [f"obs_{y}" for y in built.results.run["years"]["recent"]]
    cols = obs_columns(areas)
    return Tables(areas=areas[cols], groups=groups[cols],
                  group_of=areas["borough"].astype(str), total="obs_recent",
                  total_years=recent, t=built.grid.threshold)


def truth_cells(built: Built) -> dict[Cell, int]:
    truth = {("a", str(r), str(c)): int(v) for (r, c), v in built.truth.stack().items()}
    groups = true_group_counts(built.truth, built.grid)
    truth |= {("g", str(r), str(c)): int(v) for (r, c), v in groups.stack().items()}
    return truth


def render_outputs(built: Built, *, atlas: bool = False) -> dict[str, str]:
    """Text of every document made from the results: CSV, map PDF, explainer, atlas."""
    from firerisk.report import (
        ReportOptions,
        render_atlas_pdf,
        render_explainer_pdf,
        render_map_pdf,
    )
    from firerisk.ui.exports import targets_csv

    out: dict[str, str] = {"csv": targets_csv(built.results).decode("utf-8-sig")}
    buf = io.BytesIO()
    render_map_pdf(built.results, buf, options=ReportOptions(list_top=None))
    out["map pdf"] = pdf_text(buf.getvalue())
    top = built.results.targets.sort_values("rank")["area_id"].iloc[0]
    buf = io.BytesIO()
    render_explainer_pdf(built.results, buf, area_id=str(top), contact="Test contact")
    out["explainer pdf"] = pdf_text(buf.getvalue())
    if atlas:
        buf = io.BytesIO()
        render_atlas_pdf(built.results, buf, by="borough")
        out["atlas pdf"] = pdf_text(buf.getvalue())
    return out


def output_problems(built: Built, *, atlas: bool = False) -> list[str]:
    """Everything wrong with one build's outputs (empty when every guarantee holds)."""
    grid, t = built.grid, built.grid.threshold
    problems: list[str] = []
    layers, kinds = built.layers, built.kinds
    unknown = set(layers) - KNOWN_LAYERS
    if unknown:
        problems.append(f"unreviewed layers in the results file: {sorted(unknown)}")
    for name, kind in kinds.items():
        if kind is not None and name != "areas":
            problems.append(f"layer {name} has geometry ({kind})")
        if kind is not None and "point" in kind.lower():
            problems.append(f"layer {name} holds point geometry")
        if name != "run" and len(layers[name]) > grid.n_areas:
            problems.append(f"layer {name} has {len(layers[name])} rows, more than the areas")
    run = built.results.run
    if run["disclosure"]["mode"] != grid.mode or int(run["disclosure"]["threshold"]) != t:
        problems.append(f"run layer records {run['disclosure']['mode']!r}/"
                        f"{run['disclosure']['threshold']!r}")
    if list(run["years"]["recent"]) != grid.recent:
        problems.append(f"recent years {run['years']['recent']} != {grid.recent}")
    texts = render_outputs(built, atlas=atlas)
    attributions = [" ".join(str(a).split()) for a in built.results.provenance["attribution"]]
    for name, text in texts.items():
        problems += sentence_problems([text], t=t, where=name)
        problems += [f"{name} lacks the attribution {a!r}" for a in attributions
                     if a not in " ".join(text.split())]
    for name, table in layers.items():
        for col in table.columns:
            if table[col].dtype == object or pd.api.types.is_string_dtype(table[col]):
                problems += sentence_problems(table[col].tolist(), t=t,
                                              where=f"layer {name}, column {col}")
    areas = layers["areas"].set_index("area_id", drop=False)
    csv = pd.read_csv(io.StringIO(texts["csv"]), comment="#", dtype=str)

    if grid.mode == "public":
        for name in ("areas", "targets"):
            bad = obs_columns(layers[name]) + [c for c in RATE_COLUMNS if c in layers[name]]
            # ranges of ranks and chances are model outputs from the counts too
            groups = list(built.results.group_columns)
            bad += [c for c in uncertainty_columns(groups) if c in layers[name]]
            if bad:
                problems.append(f"public {name} layer has count or rate columns {bad}")
        if "group_counts" in layers:
            problems.append("public results have a group_counts layer")
        if layers["band_breaks"][["lower", "upper"]].notna().to_numpy().any():
            problems.append("public band_breaks publish rate values")
        for col in ("Expected incidents", "Expected fires per 1,000 households", "90% range",
                    "Chance in top 10%"):
            if col in csv.columns:
                problems.append(f"public CSV has the column {col!r}")
        for name, text in texts.items():
            if re.search(r"\((expected|typical for this many homes:) \d", text):
                problems.append(f"public {name} says how many fires were expected")
        reasons = pd.concat([areas[c] for c in ("reason_1", "reason_2", "reason_3")])
        numbered = [r for r in reasons if isinstance(r, str) and "fire" in r.lower()
                    and re.search(r"\d", r)]
        if numbered:
            problems.append(f"public reasons give numbers about fires: {numbered[:3]}")
        return problems

    # internal mode: the published counts against the truth
    tables = published_tables(built)
    problems += check_count_table(tables.areas, built.truth, t=t, name="areas")
    targets = layers["targets"].set_index("area_id")
    if not targets[obs_columns(targets)].equals(tables.areas.loc[targets.index]):
        problems.append("the targets layer's counts differ from the areas layer's")
    problems += check_count_table(tables.groups, true_group_counts(built.truth, grid), t=t,
                                  name="groups")
    for col in ("expected", "risk_per_1000"):
        values = areas[col].to_numpy(dtype=float)
        if not np.allclose(values * 10, np.round(values * 10), atol=1e-6):
            problems.append(f"areas.{col} is published with more than one decimal")
    lower, sentence = history_bounds(areas, t=t, history_years=grid.history_years)
    problems += sentence
    if problems:  # the attacks below assume well-formed tables
        return problems
    # the differencing attack, as the tool's own checker runs it (LP relaxation) ...
    found = find_disclosures(tables.areas, tables.groups, groups=tables.group_of, threshold=t,
                             total_label=tables.total, total_years=tables.total_years,
                             grand_label=GRAND)
    problems += [f"find_disclosures: {d}" for d in found]
    # ... and exactly, with the bounds the history sentences add
    problems += pinned_cells(tables, truth_cells(built), lower)
    return problems


# -- 1. property-based: random small datasets, every output, both modes -------------------


@st.composite
def grids(draw: st.DrawFn, mode: str) -> Grid:
    nx, ny, n_years = 5, 4, 8  # 2015-2021 full, 2022 January to June
    n = nx * ny
    counts = []
    for k in range(n):
        # three busy areas at different levels keep the model fittable; the rest range
        # from nearly empty to busy
        low, top = ((2, 4), (4, 8), (7, 12))[k] if k < 3 else (0, draw(st.sampled_from(
            (1, 2, 4, 8, 12))))
        row = draw(st.lists(st.integers(low, top), min_size=n_years, max_size=n_years))
        # every area had a fire at some point before the last full year: when only the busy
        # areas have fires, the model is perfectly predicted and refuses the data
        row[k % (n_years - 2)] = max(row[k % (n_years - 2)], 1)
        if k % 4 == 0:  # and quiet areas too had fires in the last full year (the response)
            row[n_years - 2] = max(row[n_years - 2], 1)
        counts.append(row)
    counts[0][0] = max(counts[0][0], 1)  # an incident on the study's first day
    counts[0][-1] = max(counts[0][-1], 1)  # and one in the partial year
    households = [300 + (137 * k) % 500 + draw(st.integers(0, 100)) for k in range(n)]
    return Grid(counts=tuple(tuple(c) for c in counts), households=tuple(households),
                threshold=draw(st.integers(3, 7)), mode=mode, nx=nx, ny=ny,
                n_groups=draw(st.integers(2, 3)), seed=draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("mode", ["internal", "public"])
@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          # 5 datasets per mode (10 builds, about 2-3 s each with their PDFs) keep the file
          # near a minute and a half with the London build. No shrinking (every shrink step
          # is a build): a failure lists every problem of the first failing dataset instead.
          phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_small_count_can_be_read_from_any_output(mode: str, data: st.DataObject,
                                                    tmp_path_factory: pytest.TempPathFactory
                                                    ) -> None:
    grid = data.draw(grids(mode), label="grid")
    built = build_grid(tmp_path_factory.mktemp("grid"), grid)
    problems = output_problems(built)
    assert not problems, "\n".join(problems[:30])


# -- fixed cases -----------------------------------------------------------------------------

#: A small count in a recent-years total, with its history sentence (t = 5): area A19 had
#: 0 + 3 + 1 = 4 fires in 2019-2021, with 3 expected at the service-wide rate.
LEAK_CASE = grid_from_rows(
    ["11623423", "21120101", "00100110", "02000100", "57332132", "42564314", "12353524",
     "22431211", "41003321", "64643217", "82135062", "00000010", "32304145", "00000101",
     "20323325", "22100010", "49345354", "43212020", "10200112", "21330316"],
    households=[400, 449, 556, 860, 702, 563, 423, 764, 654, 600, 692, 410, 848, 477, 586,
                644, 404, 385, 584, 308], threshold=5, seed=3)

#: The sentences' bounds also travel through the tables (t = 4): "Some fires in the last 3
#: years (typical for this many homes: 11)" tells a reader that A13's withheld total is at least 12; with the
#: published totals of Group 2 that leaves exactly one table for areas A10 and A15, whose
#: own sentences say nothing.
CHAIN_CASE = Grid(
    counts=((2, 2, 4, 3, 3, 4, 2, 4), (8, 8, 7, 8, 6, 4, 4, 5), (8, 12, 9, 11, 9, 8, 10, 8),
            (1, 0, 0, 1, 0, 1, 0, 1), (1, 0, 1, 1, 1, 1, 1, 1), (1, 0, 4, 0, 4, 2, 2, 2),
            (1, 0, 2, 4, 6, 6, 0, 0), (0, 1, 1, 0, 1, 1, 1, 1), (1, 1, 1, 1, 1, 2, 1, 0),
            (1, 0, 5, 7, 8, 0, 4, 3), (0, 0, 2, 1, 1, 0, 1, 1), (6, 2, 6, 4, 8, 4, 2, 5),
            (5, 2, 6, 2, 8, 2, 4, 5), (2, 7, 5, 8, 5, 2, 5, 8), (8, 4, 2, 4, 4, 10, 3, 11),
            (0, 0, 0, 1, 0, 1, 0, 1), (12, 4, 10, 6, 9, 8, 5, 2), (1, 1, 1, 0, 1, 1, 1, 1),
            (1, 6, 3, 2, 5, 1, 2, 3), (2, 1, 2, 2, 0, 0, 1, 1)),
    households=(306, 437, 615, 781, 366, 485, 682, 821, 438, 569, 756, 352, 467, 644, 761,
                402, 541, 684, 843, 404), threshold=4, n_groups=3, seed=227)

#: Six areas, two groups, 2019-2021 full and 2022 partial, t = 3: small enough to enumerate
#: every table a reader could think of.
TINY_CASE = grid_from_rows(
    ["2101", "0320", "4152", "1110", "3061", "2420"],
    households=[420, 610, 380, 550, 700, 490], threshold=3, nx=2, ny=3, n_groups=2,
    first_year=2019, history_years=2, seed=11)


@pytest.fixture(scope="module")
def leak_case(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_grid(tmp_path_factory.mktemp("leak"), LEAK_CASE)


def test_history_sentence_never_pins_a_withheld_total(leak_case: Built) -> None:
    areas = leak_case.layers["areas"]
    _, problems = history_bounds(areas, t=leak_case.grid.threshold,
                                 history_years=leak_case.grid.history_years)
    # the situation the test is about does arise in this dataset
    assert leak_case.truth.loc["A19", "obs_recent"] == 4
    assert not problems, "\n".join(problems)


def test_history_sentences_pin_nothing_through_the_tables(tmp_path: Path) -> None:
    built = build_grid(tmp_path, CHAIN_CASE)
    tables = published_tables(built)
    lower, direct = history_bounds(built.layers["areas"], t=CHAIN_CASE.threshold,
                                   history_years=CHAIN_CASE.history_years)
    assert not direct
    assert lower  # the case has history sentences on withheld totals
    # without what the sentences add, the tables protect every small count ...
    assert pinned_cells(tables, truth_cells(built), {}) == []
    # ... and with it they must still do so
    problems = pinned_cells(tables, truth_cells(built), lower)
    assert not problems, "\n".join(problems)


def test_model_figures_are_published_rounded(leak_case: Built) -> None:
    """Expected fires and rates are rounded to 0.1 so they cannot be worked back into the
    withheld counts; no other layer may give them at full precision."""
    areas = leak_case.layers["areas"]
    published = set(np.round(areas["risk_per_1000"].to_numpy(dtype=float), 1))
    breaks = leak_case.layers["band_breaks"]
    values = breaks[["lower", "upper"]].to_numpy(dtype=float).ravel()
    unrounded = [v for v in values if not math.isclose(v * 10, round(v * 10), abs_tol=1e-6)]
    top = areas.sort_values("rank").iloc[0]
    assert not unrounded, (
        f"band_breaks give rates to full precision ({unrounded[:3]}), while the areas layer "
        f"rounds them to 0.1 ({sorted(published)[:3]}). The top band's upper break is the "
        f"rate of the rank-1 area, so its expected fires are published as "
        f"{breaks['upper'].max() * top['households'] / 1000!r}, not {top['expected']}")


@pytest.mark.parametrize("mode", ["internal", "public"])
def test_every_output_of_a_fixed_case_with_the_atlas(mode: str, leak_case: Built,
                                                     tmp_path: Path) -> None:
    built = leak_case if mode == "internal" else build_grid(
        tmp_path, replace(LEAK_CASE, mode="public"))
    problems = [p for p in output_problems(built, atlas=True)
                if "pins a withheld count" not in p]  # reported by the test above
    assert not problems, "\n".join(problems[:30])


def test_brute_force_reader_pins_nothing_in_a_tiny_case(tmp_path: Path) -> None:
    built = build_grid(tmp_path, TINY_CASE)
    tables = published_tables(built)
    t = TINY_CASE.threshold
    assert check_count_table(tables.areas, built.truth, t=t, name="areas") == []
    withheld = [(a, c) for a in tables.areas.index for c in tables.areas.columns
                if tables.areas.at[a, c] in (f"<{t}", WITHHELD)]
    assert len(withheld) >= 6  # the case exercises suppression
    lower, _ = history_bounds(built.layers["areas"], t=t, history_years=2)
    seen = brute_force_ranges(tables, lower)
    truth = truth_cells(built)
    pinned = sorted((a, c, truth[("a", a, c)]) for a, c in withheld
                    if len(seen[("a", a, c)]) == 1)
    for a, c in withheld:  # the true table is among those enumerated
        assert truth[("a", a, c)] in seen[("a", a, c)]
    assert not pinned, f"cells a reader can pin by enumeration: {pinned}"
    # the exact integer check used on the random datasets agrees with enumeration, here and
    # when a reader is told more (a made-up lower bound on two small totals pins cells)
    for bounds in (lower, {"A01": 5, "A02": 6, "A05": 6}, {"A02": 5, "A05": 6}):
        seen = brute_force_ranges(tables, bounds)
        by_enumeration = {(a, c) for a, c in withheld if len(seen[("a", a, c)]) == 1
                          and 1 <= min(seen[("a", a, c)]) < t}
        by_milp = {(row, col) for kind, row, col, _ in pinned_small_cells(tables, truth, bounds)
                   if kind == "a"}
        assert by_milp == by_enumeration, bounds
        assert bounds == lower or by_milp, bounds  # the made-up bounds do pin something


def test_hostile_area_names_are_defused_and_escaped(tmp_path: Path) -> None:
    """Text from the inputs cannot run as a spreadsheet formula or as HTML in the outputs."""
    from firerisk.ui import mapview
    from firerisk.ui.exports import targets_csv

    hostile = ("=HYPERLINK(\"http://x.invalid\",\"a\")", "<img src=x onerror=alert(1)>",
               "+1+cmd", "@SUM(A1)", "Tom & Jerry's \"yard\"", "-2+3")
    built = build_grid(tmp_path, replace(TINY_CASE, names=hostile))
    csv = pd.read_csv(io.BytesIO(targets_csv(built.results)), comment="#",
                      encoding="utf-8-sig", dtype=str)
    for name in csv["Area"]:
        assert not name.startswith(("=", "+", "-", "@")), f"CSV cell {name!r} is a formula"
    assert set(csv["Area"].str.lstrip("'")) == set(hostile)
    props = mapview.area_properties(built.results.areas.drop(columns="geometry"))
    payload = json.dumps(props)
    assert "<img" not in payload
    assert "&lt;img src=x onerror=alert(1)&gt;" in payload
    texts = render_outputs(built)
    assert "onerror=alert(1)" in texts["map pdf"]  # printed as text, nothing more


# -- 2. the real London results ------------------------------------------------------------


@pytest.fixture(scope="module")
def london(sample_results: Path) -> tuple[Results, dict[str, pd.DataFrame], dict[str, str | None]]:
    layers, kinds = read_layers(sample_results)
    return read_results(sample_results), layers, kinds


@pytest.fixture(scope="module")
def incident_rows() -> pd.DataFrame:
    return pd.read_csv(INCIDENTS_GZ)


def test_real_results_hold_no_incident_level_data(london: Any, incident_rows: pd.DataFrame
                                                  ) -> None:
    results, layers, kinds = london
    n_areas = len(layers["areas"])
    assert n_areas == 4994
    assert set(layers) <= KNOWN_LAYERS, f"unreviewed layers: {set(layers) - KNOWN_LAYERS}"
    for name, table in layers.items():
        kind = kinds[name]
        assert kind is None or (name == "areas" and "Polygon" in kind), (name, kind)
        assert len(table) <= n_areas, f"layer {name} has {len(table):,} rows"
        assert len(table) < len(incident_rows) / 10
        for col in table.columns:
            words = set(re.split(r"[^a-z0-9]+", str(col).lower()))
            # the date the input was published; when the QGIS style was written
            if (name, col) not in (("provenance", "date"), ("layer_styles", "update_time")):
                assert not words & INCIDENT_WORDS, f"layer {name} has a column {col!r}"
            if pd.api.types.is_numeric_dtype(table[col]) and table[col].notna().any():
                median = float(table[col].median())
                assert not 100_000 <= median <= 700_000, \
                    f"{name}.{col} looks like grid coordinates"
    t = results.threshold
    for name in ("areas", "targets", "group_counts"):
        table = layers[name]
        for col in table.columns:
            if not (table[col].dtype == object or pd.api.types.is_string_dtype(table[col])):
                assert not str(col).startswith("obs_"), f"{name}.{col} is not text"
                continue
            cells = table[col].dropna().astype(str).str.strip()
            small = sorted({c for c in cells if c.isdigit() and 1 <= int(c) < t})
            assert not small, f"{name}.{col} shows counts {small}"
            if str(col).startswith("obs_"):
                bad = [c for c in cells.unique()
                       if cell_bounds(c, t=t, leaf=col != "obs_recent") is None]
                assert not bad, f"{name}.{col} has cells {bad[:5]}"
            assert not sentence_problems(table[col].tolist(), t=t, where=f"{name}.{col}")
    _, pins = history_bounds(layers["areas"], t=t,
                             history_years=len(results.run["years"]["recent"]))
    assert not pins, "\n".join(pins[:10])


def _map_documents(results: Results, path: str, sha: str) -> dict[str, str]:
    """The HTML of the map page for every layer, and every static file its script loads,
    made by the app's own functions the way ``ui/page_map.py`` makes them."""
    from firerisk.ui import mapview, state
    from firerisk.ui.assets import LEAFLET_CSS, LEAFLET_JS, static_url
    from firerisk.ui.bands import AS_PUBLISHED, classify_rates

    files = state.map_files(path, sha, "borough")
    for value in files.groups:  # split maps: every group's file, as a zoomed-in map loads it
        state.group_file(path, sha, "borough", value)
    banding = state.banding(results, AS_PUBLISHED)
    ids = results.areas["area_id"].astype(str).tolist()
    docs = {}
    for layer in mapview.available_layers(results):
        rate = (classify_rates(results.areas["area_id"].astype(str),
                               results.areas["risk_per_1000"], scheme="quantiles",
                               labels=[str(i) for i in range(1, mapview.RATE_CLASSES + 1)])
                if layer == "rate" else None)
        style = mapview.layer_style(results, layer, banding=banding, rate_banding=rate)
        fields = mapview.tooltip_fields(results.areas.columns, style, group_label="Borough")
        if files.split:
            assert files.overview is not None
            summary = mapview.group_summary(results.areas, "borough")
            table = mapview.style_table(
                style, banding, area_ids=ids, fields=fields, view="all", bounds=files.bounds,
                overview_url=static_url(files.overview),
                group_classes_=mapview.group_classes(summary, layer, banding=banding,
                                                     rate_banding=rate).tolist(),
                group_bands=mapview.group_classes(summary, "band", banding=banding).tolist(),
                group_fields_=mapview.group_fields(summary, group_label="borough"))
        else:
            assert files.areas is not None
            table = mapview.style_table(style, banding, area_ids=ids, fields=fields,
                                        view="all", bounds=files.bounds,
                                        load=[static_url(files.areas)])
        m = mapview.base_map([list(files.bounds[0]), list(files.bounds[1])],
                             js=[static_url(LEAFLET_JS), static_url(files.script)],
                             css=[static_url(LEAFLET_CSS)])
        mapview.area_layer(table).add_to(m)
        docs[f"{layer} map page"] = m.get_root().render()
    return docs


@pytest.mark.parametrize("split", [False, True], ids=["one file", "overview and group files"])
def test_app_map_sends_no_incident_coordinates(split: bool, sample_results: Path,
                                               incident_rows: pd.DataFrame, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything the map page sends to the browser: its HTML and the static GeoJSON files.

    London has fewer areas than the overview threshold (one file); with the threshold
    lowered it is drawn as a larger service's would be (an overview plus a file per group).
    """
    from pyproj import Transformer

    from firerisk.ui import mapview, state

    monkeypatch.setattr(state, "STATIC_DIR", tmp_path)
    # no background writer (it would outlive the test): the group files are written above
    monkeypatch.setattr(state, "_write_group_files", lambda *args, **kwargs: None)
    if split:
        monkeypatch.setattr(mapview, "OVERVIEW_MIN_AREAS", 1000)
    state.forget_map_files()
    try:
        path, sha = str(sample_results.resolve()), state.fingerprint(sample_results)
        results = state.load_results(path, sha)
        docs = _map_documents(results, path, sha)
    finally:
        state.forget_map_files()
    written = sorted(tmp_path.rglob("*.geojson"))
    assert len(written) == (1 + results.areas["borough"].nunique() if split else 1)
    docs |= {f.name: f.read_text(encoding="utf-8") for f in written}
    pairs: set[tuple[float, float]] = set()
    t = results.threshold
    for name, text in docs.items():
        for kind in ('"Point"', '"MultiPoint"', "L.marker(", "L.circleMarker(", "L.circle("):
            assert kind not in text, f"{name} holds {kind}"
        for a, b in re.findall(r"\[\s*(-?\d+\.\d+)\s*,\s*(-?\d+\.\d+)\s*\]", text):
            pairs.add((round(float(a), 5), round(float(b), 5)))
        assert not sentence_problems([text], t=t, where=name)
        if name.endswith(".geojson"):
            doc = json.loads(text)
            assert {f["geometry"]["type"] for f in doc["features"]} <= {"Polygon",
                                                                         "MultiPolygon"}
            shown = {html_lib.unescape(f["properties"]["o"]) for f in doc["features"]
                     if "o" in f["properties"]}
            bad = {s for s in shown if s != "no data" and cell_bounds(s, t=t, leaf=False) is None}
            assert not bad, f"{name}: tooltips show recorded fires as {sorted(bad)[:5]}"
    # positive control: this parser finds the polygons' own vertices
    area_doc = json.loads(docs[written[-1].name])
    ring = area_doc["features"][0]["geometry"]["coordinates"]
    while isinstance(ring[0][0], list):
        ring = ring[0]
    assert (round(ring[0][0], 5), round(ring[0][1], 5)) in pairs
    assert len(pairs) > len(results.areas)
    rows = incident_rows.dropna(subset=["easting_rounded", "northing_rounded"])
    sample = rows.sample(200, random_state=5)
    to_wgs = Transformer.from_crs(27700, 4326, always_xy=True)
    lon, lat = to_wgs.transform(sample["easting_rounded"].to_numpy(dtype=float),
                                sample["northing_rounded"].to_numpy(dtype=float))
    points = {(round(float(x), 5), round(float(y), 5)) for x, y in zip(lon, lat, strict=True)}
    swapped = {(y, x) for x, y in points}
    assert not (points | swapped) & pairs, "incident locations appear in what the map sends"


# -- 3. provenance --------------------------------------------------------------------------


def test_provenance_register_matches_the_input_files(sample_profile: Path, london: Any,
                                                     incident_rows: pd.DataFrame) -> None:
    from firerisk.geo.profile import load_profile
    from firerisk.report import render_map_pdf
    from firerisk.ui.exports import targets_csv

    results, layers, _ = london
    profile = load_profile(sample_profile)
    prov = layers["provenance"].set_index("role")
    files = profile.input_files()
    assert set(prov.index) == set(files)
    for role, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert prov.at[role, "sha256"] == digest, role
        assert results.run["checksums"][role] == digest, role
        assert prov.at[role, "file"] == path.name
        read, used, dropped = (int(prov.at[role, k]) for k in
                               ("rows_read", "rows_used", "rows_dropped"))
        assert read == used + dropped, role
    # rows read, counted independently
    assert int(prov.at["incidents", "rows_read"]) == len(incident_rows)
    assert int(prov.at["areas", "rows_read"]) == pyogrio.read_info(
        SAMPLE / "london_lsoa21.geojson")["features"]
    for cov in profile.covariates:
        assert int(prov.at[f"covariates:{cov.name}", "rows_read"]) == len(pd.read_csv(cov.path))
    # every incident used is in the published grand total (its year cells are exact)
    grand = layers["group_counts"].set_index("borough").loc[GRAND]
    years = [c for c in grand.index if c.startswith("obs_") and c[4:].isdigit()]
    assert sum(int(grand[c]) for c in years) == int(prov.at["incidents", "rows_used"])
    # the attribution of every input is printed on the PDF and in the CSV header
    borough = min(results.areas["borough"].unique())
    buf = io.BytesIO()
    render_map_pdf(results, buf, group_column="borough", group_value=borough)
    text = pdf_text(buf.getvalue())
    header = " ".join(line for line in targets_csv(results).decode("utf-8-sig").splitlines()
                      if line.startswith("#"))
    for role, attribution in prov["attribution"].items():
        flat = " ".join(str(attribution).split())
        assert flat, f"{role} has no attribution"
        assert flat in text, f"the PDF lacks the attribution of {role}"
        assert flat in header, f"the CSV header lacks the attribution of {role}"


# -- 4. the personal-data guard, end to end ---------------------------------------------------


@pytest.mark.parametrize(("column", "kind"), [("Address", "address"), ("loc", "postcode")])
def test_personal_column_stops_the_build(column: str, kind: str, tmp_path: Path) -> None:
    grid = replace(TINY_CASE, extra=((column, kind),))
    profile = write_grid(tmp_path, grid)
    out = tmp_path / "results.gpkg"
    with pytest.raises(PersonalDataError) as info:
        build(profile, out, evaluate=False)
    problems = info.value.problems
    assert [(Path(p.file).name, p.column) for p in problems] == [("incidents.csv", column)]
    assert not out.exists()
    assert not list(tmp_path.glob("*.gpkg"))
    values = set(personal_values(kind, 5))
    assert not any(v in str(info.value) for v in values)  # the message never quotes values


def test_dropped_personal_columns_reach_no_output(tmp_path: Path) -> None:
    grid = replace(TINY_CASE, extra=(("Address", "address"), ("loc", "postcode")),
                   drop=("Address", "loc"))
    built = build_grid(tmp_path, grid)
    n = len(pd.read_csv(tmp_path / "incidents.csv"))
    values = set(personal_values("address", n)) | set(personal_values("postcode", n))
    needles = values | set(STREETS) | {p.replace(" ", "") for p in POSTCODES}
    raw = built.gpkg.read_bytes()
    texts = render_outputs(built, atlas=True)
    for needle in needles:
        assert needle.encode("utf-8") not in raw, f"{needle!r} is in the GeoPackage"
        for name, text in texts.items():
            assert needle not in text, f"{needle!r} is in the {name}"
    # and the build itself is otherwise unchanged: same counts as without the columns
    assert check_count_table(published_tables(built).areas, built.truth,
                             t=grid.threshold, name="areas") == []
