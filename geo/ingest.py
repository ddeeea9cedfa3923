"""Load a profile's input files: read, validate, count incidents per area and year.

:func:`load_inputs` is the only entry point the rest of the tool needs. It checks all
the files and raises one :class:`~geo.errors.InputFileError` listing every problem;
otherwise it returns :class:`Inputs`. Incident points are aggregated here and never
leave this function: :class:`Inputs` holds counts, not incidents.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj.exceptions import CRSError

from firerisk.columns import AREA_ID
from firerisk.errors import InputFileError, Problem
from firerisk.geo import readers
from firerisk.geo.aggregate import (
    Aggregation,
    RowAccounting,
    YearCoverage,
    aggregate_incidents,
    year_coverage,
)
from firerisk.geo.crs import choose_working_crs, crs_label, to_wgs84, to_working
from firerisk.geo.plausible import figure_problems, zero_exposure_problem
from firerisk.geo.quality import loss_findings
from firerisk.geo.timeline import find_bulk, gap_problem, incomplete_years, stray_problems
from firerisk.geo.validate import (
    CovariateAccounting,
    PreparedIncidents,
    area_needs,
    check_areas,
    check_covariates,
    covariate_header_problems,
    covariate_needs,
    drop_column_conflicts,
    incident_needs,
    missing_columns,
    prepare_incidents,
)
from firerisk.specs import Profile

__all__ = ["InputRows", "Inputs", "load_inputs"]


@dataclass(frozen=True)
class InputRows:
    """Rows read, used and dropped for one input file (for the provenance register)."""

    role: str
    file: str
    rows_read: int
    rows_used: int
    rows_dropped: int


@dataclass(frozen=True, eq=False)
class Inputs:
    """Everything later stages need from the input files (no incident-level rows).

    Attributes
    ----------
    areas : GeoDataFrame
        ``area_id``, ``area_name``, one column per group label, ``geometry``; working CRS.
    counts : DataFrame
        Indexed by ``area_id`` (areas order), one int column per year of ``years``.
    counts_by_type : DataFrame or None
        Long table ``area_id, year, type, count`` (non-zero rows) when a type column is set.
    years : YearCoverage
        Dates covered per year; partial years are flagged.
    accounting : RowAccounting
        What happened to every incident row.
    covariates_raw : DataFrame
        Indexed by ``area_id`` (areas order): every covariate table's columns (keys
        dropped; a name already taken by an earlier table gets the prefix ``<table>.``).
    covariate_accounting : tuple of CovariateAccounting
        Rows read, used and dropped per covariate table.
    working_crs : str
        The metric CRS of ``areas`` (e.g. ``"EPSG:27700"``).
    extent, extent_wgs84 : tuple of 4 floats
        The areas' bounds (xmin, ymin, xmax, ymax) in the working CRS and in EPSG:4326.
    incident_crs : str
        The CRS the incident coordinates were read in.
    data_first, data_last : date or None
        First and last readable incident dates in the file.
    input_rows : dict
        Role (as in :meth:`Profile.input_files`) -> :class:`InputRows`.
    boundary_ties : int
        Incidents on a boundary between areas (each counted once; see geo.aggregate).
    notes : tuple of str
        Things worth telling the user that are not errors.
    seconds : float
        Time taken to load.
    warnings : tuple of str
        Losses worth a warning in ``check`` and ``build`` (see geo.quality).
    """

    areas: gpd.GeoDataFrame
    counts: pd.DataFrame
    counts_by_type: pd.DataFrame | None
    years: YearCoverage
    accounting: RowAccounting
    covariates_raw: pd.DataFrame
    covariate_accounting: tuple[CovariateAccounting, ...]
    working_crs: str
    extent: tuple[float, float, float, float]
    extent_wgs84: tuple[float, float, float, float]
    incident_crs: str
    data_first: date | None
    data_last: date | None
    input_rows: dict[str, InputRows]
    boundary_ties: int
    notes: tuple[str, ...]
    seconds: float
    warnings: tuple[str, ...] = field(default=())


#: Column names that look like an incident number (named in the fix for repeated rows).
_INCIDENT_NUMBER = re.compile(r"^(incident|inc|call|job|event)_?(number|no|num|id|ref)$")


def _incident_number_column(columns: Sequence[str]) -> str | None:
    """A column whose name looks like an incident number, for the fix text."""
    return next((c for c in columns
                 if _INCIDENT_NUMBER.match(re.sub(r"[^a-z0-9]+", "_", c.lower()).strip("_"))),
                None)


def _bounds(values: object) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in values)  # type: ignore[attr-defined]
    return (a, b, c, d)


def _read_areas(profile: Profile, *, repair_geometry: bool, problems: list[Problem],
                notes: list[str]) -> tuple[gpd.GeoDataFrame | None, int]:
    """Read and check the area boundaries; returns the areas (or None) and rows read."""
    spec = profile.areas
    try:
        layer = readers.pick_layer(spec.path, spec.layer, section="areas")
        available = readers.list_columns(spec.path, layer=layer)
        needs = area_needs(spec)
        problems += missing_columns(str(spec.path), available, needs)
        wanted = [n.column for n in needs if n.column in available]
        raw_areas = readers.read_vector(spec.path, layer=layer, columns=list(dict.fromkeys(wanted)))
        areas, found, area_notes = check_areas(raw_areas, spec, file=str(spec.path),
                                               repair_geometry=repair_geometry
                                               or spec.repair_geometry)
        problems += found
        notes += area_notes
        return areas, len(raw_areas)
    except InputFileError as exc:
        problems += exc.problems
        return None, 0


def _to_working_crs(profile: Profile, areas: gpd.GeoDataFrame | None, problems: list[Problem],
                    ) -> tuple[gpd.GeoDataFrame | None, str | None, str | None]:
    """Project the areas to the working CRS; returns (areas, working CRS, source CRS)."""
    if areas is None or areas.crs is None:
        return areas, None, None
    source_crs = crs_label(areas.crs)
    try:
        working = choose_working_crs(areas, preferred=profile.working_crs)
    except (ValueError, CRSError) as exc:
        problems.append(Problem(str(profile.source), f"working_crs: {exc}",
                                "set working_crs = \"EPSG:27700\" (GB) or a UTM zone "
                                "in EPSG codes, or leave it out to choose automatically."))
        return areas, None, source_crs
    return to_working(areas, working), working, source_crs


def _read_incidents(profile: Profile, *, working: str | None,
                    extent: tuple[float, float, float, float] | None, source_crs: str | None,
                    problems: list[Problem], notes: list[str],
                    say: Callable[[str], None]) -> PreparedIncidents | None:
    """Read, check and project the incident points (not yet counted per area)."""
    inc = profile.incidents
    try:
        csv = readers.is_csv(inc.path)
        layer = None if csv else readers.pick_layer(inc.path, inc.layer, section="incidents")
        layout = readers.layout_of(inc, "[incidents]")
        available = readers.list_columns(inc.path, layer=layer, layout=layout)
        needs = incident_needs(inc, csv=csv)
        column_problems = drop_column_conflicts(str(inc.path), inc.drop_columns, needs,
                                                section="[incidents]")
        column_problems += _missing_or_layout(inc.path, available, needs, layout if csv else None)
        problems += column_problems
        if column_problems:
            return None
        raw = readers.read_incidents(inc)
        say(f"Checking {len(raw):,} incident rows")
        keys = (readers.row_hashes(inc.path, layout=layout, drop_columns=inc.drop_columns)
                if csv and not inc.id and inc.duplicates != "keep" else None)
        prepared, found = prepare_incidents(
            raw, inc, profile.study, file=str(inc.path), working_crs=working, extent=extent,
            extra_crs=[source_crs] if source_crs else [], row_keys=keys,
            id_hint=_incident_number_column(available))
        problems += found
        notes += prepared.notes
        return prepared
    except InputFileError as exc:
        problems += exc.problems
        return None


def _missing_or_layout(path: Any, available: Sequence[str], needs: Sequence[Any],
                       layout: readers.CsvLayout | None) -> list[Problem]:
    """Missing columns; for a CSV whose layout explains them (separator, header line,
    encoding), that one cause instead."""
    missing = missing_columns(str(path), available, needs)
    if missing and layout is not None:
        wanted = [n.column for n in needs if n.column]
        layout_problem = readers.layout_problem(path, layout, wanted=wanted)
        if layout_problem is not None:
            return [layout_problem]
    return missing


def _read_covariates(profile: Profile, areas: gpd.GeoDataFrame | None,
                     problems: list[Problem]) -> Any:
    """Read every covariate table and join them to the areas (a ``CovariateCheck``)."""
    headers: dict[str, tuple[str, ...]] = {}
    needs = covariate_needs(profile)
    for cov in profile.covariates:
        layout = readers.layout_of(cov, readers.covariate_section(cov))
        try:
            header = readers.list_columns(cov.path, layout=layout)
        except InputFileError as exc:
            problems += exc.problems
            continue
        wanted = [cov.key, *(c for c in needs if c not in header)]
        hint = None if cov.key in header else readers.layout_problem(cov.path, layout,
                                                                     wanted=wanted)
        if hint is not None:
            problems.append(hint)
        else:
            headers[cov.name] = header
    problems += covariate_header_problems(profile, headers)
    tables: dict[str, pd.DataFrame] = {}
    for cov in profile.covariates:
        if cov.name in headers and cov.key in headers[cov.name] and cov.key not in cov.drop_columns:
            try:
                tables[cov.name] = readers.read_covariates(
                    cov, columns=readers.covariate_columns(cov, headers[cov.name]))
            except InputFileError as exc:
                problems += exc.problems
    area_ids = pd.Index(areas[AREA_ID]) if areas is not None else None
    covariates = check_covariates(profile, tables, area_ids=area_ids)
    problems += covariates.problems
    return covariates


def _coverage_notes(profile: Profile, prepared: PreparedIncidents, coverage: YearCoverage,
                    acc: RowAccounting, boundary_ties: int) -> list[str]:
    """Things worth telling the user about the incidents' dates and places."""
    notes: list[str] = []
    if profile.study.end and prepared.data_last and prepared.data_last < profile.study.end:
        notes.append(f"The study period runs to {profile.study.end}, but the incident data "
                     f"end on {prepared.data_last}; later dates are not counted as zero.")
    if profile.study.start and prepared.data_first and prepared.data_first > profile.study.start:
        notes.append(f"The study period starts on {profile.study.start}, but the incident "
                     f"data start on {prepared.data_first}.")
    if coverage.partial_years:
        notes.append(f"Partial years (not used as full years): "
                     f"{', '.join(map(str, coverage.partial_years))}.")
    outside = acc.dropped["outside every area"]
    if outside > 0.1 * (acc.rows_used + outside):
        notes.append(f"{outside:,} incidents ({100 * outside / (acc.rows_used + outside):.0f} % "
                     "of those in the study period) lie outside every area: check that the "
                     "incident file and the areas cover the same place.")
    if boundary_ties:
        notes.append(f"{boundary_ties:,} incidents lie on a boundary between areas; each "
                     "was counted once, in the area whose code sorts first.")
    return notes


def _input_rows(profile: Profile, areas_read: int, areas: gpd.GeoDataFrame, acc: RowAccounting,
                covariates: Any) -> dict[str, InputRows]:
    """Rows read, used and dropped per input file, keyed by role."""
    spec, inc = profile.areas, profile.incidents
    input_rows = {
        "areas": InputRows("areas", str(spec.path), areas_read, len(areas), areas_read - len(areas)),
        "incidents": InputRows("incidents", str(inc.path), acc.rows_read, acc.rows_used,
                               acc.rows_dropped),
    }
    for ca in covariates.accounting:
        role = f"covariates:{ca.name}"
        input_rows[role] = InputRows(role, ca.file, ca.rows_read, ca.rows_used, ca.rows_dropped)
    return input_rows


def _year_step(profile: Profile, prepared: PreparedIncidents, problems: list[Problem],
               notes: list[str]) -> tuple[YearCoverage, PreparedIncidents]:
    """The years the incidents really cover (geo.timeline): strays are named, and years
    whose months look missing or far below usual stop the build unless accepted.

    Returns the coverage and the incidents with any stray rows moved to "outside the study
    period" (what the fix, ``[study] start`` or ``end``, makes of them), so the other
    checks still run on the rest.
    """
    inc, study = profile.incidents, profile.study
    file = str(inc.path)
    bulk = find_bulk(prepared.dates)
    counted = np.zeros(len(prepared.dates), dtype=bool)
    counted[prepared.table["row"].to_numpy() - 1] = True
    strays = stray_problems(prepared.dates, np.arange(1, len(prepared.dates) + 1),
                            replace(bulk, strays=bulk.strays & counted), file=file,
                            column=inc.date)
    problems += strays
    coverage = year_coverage(study_start=study.start, study_end=study.end,
                             data_first=bulk.first, data_last=bulk.last)
    if strays:
        rows = np.flatnonzero(bulk.strays & counted) + 1
        table = prepared.table[~prepared.table["row"].isin(rows)].reset_index(drop=True)
        dropped = dict(prepared.dropped)
        dropped["outside the study period"] = np.sort(np.concatenate(
            [dropped["outside the study period"], rows]))
        return coverage, replace(prepared, table=table, dropped=dropped)
    checked = [y for y in coverage.full_years if y not in study.accept_incomplete]
    gaps = incomplete_years(prepared.table["date"], checked)
    problem = gap_problem(gaps, full_years=coverage.full_years, file=file, column=inc.date)
    problems += [problem] if problem else []
    accepted = incomplete_years(prepared.table["date"], [
        y for y in study.accept_incomplete if y in coverage.full_years])
    notes += [f"{y} is used as a full year although it looks incomplete ({why}), as "
              "[study] accept_incomplete says." for y, why in accepted.items()]
    return coverage, prepared


def _loss_step(profile: Profile, prepared: PreparedIncidents, agg: Aggregation,
               problems: list[Problem], warnings: list[str]) -> None:
    """The ceiling on silent loss (geo.quality) over the rows the profile meant to count."""
    inc = profile.incidents
    lost = {**prepared.lost, "outside every area": agg.outside_rows}
    xy = f"{inc.x}/{inc.y}" if inc.x and inc.y else "geometry"
    layouts = ", ".join(f'"{f}"' for f in prepared.other_layouts)
    date_fix = (f"set other_date_formats = [{layouts}] under [incidents] to read those dates "
                "too, or write every date in one layout and export again"
                if prepared.other_layouts else
                "write every date in the layout date_format names and export again")
    found = loss_findings(
        lost, in_scope=prepared.in_scope, file=str(inc.path),
        columns={"missing coordinates": xy, "bad date": inc.date, "outside every area": xy},
        fixes={"missing coordinates": f"fill in {xy} for these rows (an incident is counted "
                                      "in an area by its position)",
               "bad date": date_fix,
               "outside every area": "check that the incidents and the areas cover the same "
                                     "place (for a wider file, add a filter on its area or "
                                     "service column under [incidents])"},
        details={"bad date": prepared.date_layouts},
        tolerance=inc.max_dropped_percent / 100, section="[incidents]")
    problems += found.problems
    warnings += found.warnings


def _figure_step(profile: Profile, covariates: Any, counts: pd.DataFrame,
                 problems: list[Problem]) -> None:
    """Implausible households and features (geo.plausible), and 0 households with fires."""
    frame = covariates.frame
    problems += figure_problems(frame, exposure=profile.exposure, features=profile.features,
                                sources=covariates.sources)
    column = profile.exposure.column
    if column in frame.columns:
        zero = zero_exposure_problem(frame[column], counts.sum(axis=1), spec=profile.exposure,
                                     source=covariates.sources.get(column))
        problems += [zero] if zero else []


def load_inputs(profile: Profile, *, progress: Callable[[str], None] | None = None,
                repair_geometry: bool = False) -> Inputs:
    """Read and check every input file of *profile*, then count incidents per area and year.

    Parameters
    ----------
    profile : Profile
        From :func:`firerisk.geo.profile.load_profile`.
    progress : callable, optional
        Called with a short message at each step (for a progress display).
    repair_geometry : bool
        Repair invalid area polygons with :func:`shapely.make_valid` instead of
        reporting them (the repair is listed in ``notes``). The profile key
        ``[areas] repair_geometry = true`` does the same.

    Returns
    -------
    Inputs

    Raises
    ------
    InputFileError
        Listing every problem found in any of the files: first everything about reading
        them and their columns; once those can be read, every problem with their values
        (stray dates, incomplete years, dropped rows over the ceiling, implausible
        figures) at once.
    """
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    problems: list[Problem] = []
    notes: list[str] = []
    warnings: list[str] = []

    say(f"Reading the areas ({profile.areas.path.name})")
    areas, areas_read = _read_areas(profile, repair_geometry=repair_geometry,
                                    problems=problems, notes=notes)
    areas, working, source_crs = _to_working_crs(profile, areas, problems)
    extent = _bounds(areas.total_bounds) if areas is not None and working else None
    say(f"Reading the incidents ({profile.incidents.path.name})")
    before = len(problems)
    prepared = _read_incidents(profile, working=working, extent=extent, source_crs=source_crs,
                               problems=problems, notes=notes, say=say)
    clean_incidents = prepared is not None and len(problems) == before
    say("Reading the covariate tables")
    before = len(problems)
    covariates = _read_covariates(profile, areas, problems)
    clean_covariates = len(problems) == before
    notes += covariates.notes
    if areas is None or working is None or extent is None or prepared is None \
            or prepared.crs is None or not clean_incidents:
        raise InputFileError(problems or "the inputs could not be read.")

    incident_crs = prepared.crs
    say("Checking which years the incidents cover")
    coverage, prepared = _year_step(profile, prepared, problems, notes)
    say("Counting incidents per area and year")
    agg = aggregate_incidents(prepared.table, areas, years=coverage.years,
                              rows_read=prepared.rows_read, dropped=prepared.dropped)
    acc = agg.accounting
    if acc.rows_used == 0:
        problems.append(Problem(
            str(profile.incidents.path), "no incident could be counted in any area "
            f"({'; '.join(acc.lines()[2:]) or 'no rows'}).",
            "check the study period, the filters and that the incidents and areas cover "
            "the same place."))
    _loss_step(profile, prepared, agg, problems, warnings)
    if clean_covariates:
        _figure_step(profile, covariates, agg.counts, problems)
    if problems:
        raise InputFileError(problems)
    notes += _coverage_notes(profile, prepared, coverage, acc, agg.boundary_ties)

    seconds = time.perf_counter() - started
    say(f"Loaded in {seconds:.1f} s")
    return Inputs(
        areas=areas.reset_index(drop=True),
        counts=agg.counts,
        counts_by_type=agg.counts_by_type,
        years=coverage,
        accounting=acc,
        covariates_raw=covariates.frame,
        covariate_accounting=covariates.accounting,
        working_crs=working,
        extent=extent,
        extent_wgs84=_bounds(to_wgs84(areas).total_bounds),
        incident_crs=incident_crs,
        data_first=prepared.data_first,
        data_last=prepared.data_last,
        input_rows=_input_rows(profile, areas_read, areas, acc, covariates),
        boundary_ties=agg.boundary_ties,
        notes=tuple(notes),
        seconds=seconds,
        warnings=tuple(warnings),
    )
