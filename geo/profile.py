"""Dataset profiles: one TOML file that describes a fire service's input files.

A service adopts the tool by writing a profile, never by editing code. Every key
is documented in the README ("Dataset profile"). Paths are relative to the
profile's own folder.
"""

from __future__ import annotations

import codecs
import difflib
import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from firerisk.errors import Problem, ProfileError
from firerisk.specs import (
    DEFAULT_BAND_LABELS,
    DUPLICATE_POLICIES,
    FAMILIES,
    MODES,
    AreasSpec,
    BandsSpec,
    CovariateSpec,
    DisclosureSpec,
    EvaluationSpec,
    ExposureSpec,
    FeatureSpec,
    IncidentFilter,
    IncidentsSpec,
    ModelSpec,
    Profile,
    Provenance,
    StationsSpec,
    StudySpec,
)

__all__ = ["KEYS", "load_profile"]

#: The keys each table of a profile may hold; any other key is reported with the closest
#: allowed spelling (a typo must not silently fall back to a default).
KEYS: dict[str, tuple[str, ...]] = {
    "(top level)": ("name", "service", "contact", "working_crs", "areas", "incidents",
                    "covariates", "exposure", "features", "study", "model", "evaluation",
                    "bands", "disclosure", "stations"),
    "areas": ("path", "id", "name", "groups", "layer", "crs", "repair_geometry",
              "provenance"),
    "incidents": ("path", "date", "x", "y", "crs", "layer", "date_format",
                  "other_date_formats", "type", "filters",
                  "drop_columns", "delimiter", "encoding", "skip_rows", "id", "duplicates",
                  "max_dropped_percent", "provenance"),
    "covariates": ("name", "path", "key", "drop_columns", "delimiter", "encoding", "skip_rows",
                   "provenance"),
    "provenance": ("publisher", "licence", "agreement", "attribution", "date", "url"),
    "exposure": ("column", "label", "range"),
    "features": ("column", "numerator", "denominator", "label", "unit", "scale", "range"),
    "study": ("start", "end", "history_years", "accept_incomplete"),
    "model": ("family", "history", "spatial_lag", "simulations", "seed"),
    "evaluation": ("first", "last", "window_years", "bootstrap", "seed"),
    "bands": ("scheme", "k", "labels", "title"),
    "disclosure": ("threshold", "mode"),
    "filters": ("column", "values"),
    "stations": ("path", "key", "station", "delimiter", "encoding", "skip_rows", "provenance"),
}


class _Reader:
    """Typed access to a TOML table that records every problem instead of raising."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems

    def problem(self, key: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, f"key '{key}': {message}", fix))

    def table(self, data: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(key, "the table is missing.", f"add a [{key}] table.")
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"expected a table, got {type(value).__name__}.",
                         f"write it as [{key}].")
            return {}
        return value

    def str_(self, data: dict[str, Any], key: str, where: str, *, required: bool = True,
             default: str | None = None) -> str | None:
        value = data.get(key, default)
        if value is None:
            if required:
                self.problem(f"{where}.{key}", "is missing.", f"add {key} = \"...\" under [{where}].")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(f"{where}.{key}", f"expected a non-empty string, got {value!r}.",
                         f"write {key} = \"...\".")
            return None
        return value

    def int_(self, data: dict[str, Any], key: str, where: str, default: int | None, *,
             minimum: int | None = None) -> int | None:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{where}.{key}", f"expected a whole number, got {value!r}.",
                         f"write {key} = 5 (for example).")
            return default
        if minimum is not None and value < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum}, got {value}.",
                         f"set {key} to {minimum} or more.")
            return default
        return value

    def bool_(self, data: dict[str, Any], key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{where}.{key}", f"expected true or false, got {value!r}.",
                         f"write {key} = true or {key} = false (no quotes).")
            return default
        return value

    def number(self, data: dict[str, Any], key: str, where: str, default: float, *,
               low: float, high: float) -> float:
        """A number (whole or decimal) from *low* to *high*."""
        value = data.get(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            self.problem(f"{where}.{key}", f"expected a number from {low:g} to {high:g}, got "
                         f"{value!r}.", f"write {key} = {default:g} (for example).")
            return default
        return float(value)

    def range_(self, data: dict[str, Any], key: str, where: str) -> tuple[float, float] | None:
        """An optional ``[lowest, highest]`` pair of numbers."""
        value = data.get(key)
        if value is None:
            return None
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      and math.isfinite(v) for v in value))
        if not ok or value[0] >= value[1]:
            self.problem(f"{where}.{key}", f"expected [lowest, highest] with lowest below "
                         f"highest, got {value!r}.", f"write {key} = [0, 5000] (for example).")
            return None
        return float(value[0]), float(value[1])

    def int_list(self, data: dict[str, Any], key: str, where: str) -> tuple[int, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            self.problem(f"{where}.{key}", f"expected a list of years, got {value!r}.",
                         f"write {key} = [2016] (for example).")
            return ()
        return tuple(int(v) for v in value)

    def csv_layout(self, data: dict[str, Any], where: str) -> dict[str, Any]:
        """The ``delimiter``, ``encoding`` and ``skip_rows`` keys of a CSV input's table."""
        delimiter = data.get("delimiter", ",")
        if delimiter == "tab":
            delimiter = "\t"
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
            self.problem(f"{where}.delimiter", f"expected one character, got {delimiter!r}.",
                         'write delimiter = ";" (or "\\t" or "tab" for tab-separated files).')
            delimiter = ","
        encoding = data.get("encoding", "utf-8")
        try:
            encoding = codecs.lookup(str(encoding)).name if isinstance(encoding, str) else ""
        except LookupError:
            encoding = ""
        if not encoding:
            self.problem(f"{where}.encoding", f"unknown text encoding {data.get('encoding')!r}.",
                         'write encoding = "utf-8", "utf-16" or "cp1252" (Windows).')
            encoding = "utf-8"
        skip = self.int_(data, "skip_rows", where, 0, minimum=0) or 0
        return {"delimiter": delimiter, "encoding": encoding, "skip_rows": skip}

    def unknown(self, data: dict[str, Any], kind: str, where: str) -> None:
        """Report every key of *data* that a table of *kind* does not take."""
        allowed = KEYS[kind]
        for key in data:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            place = "the top level" if where == "(top level)" else f"[{where}]"
            hint = (f"did you mean '{close[0]}'? Rename it." if close else
                    f"remove it; {place} takes {', '.join(allowed)}.")
            name = f"{where}.{key}" if where != "(top level)" else str(key)
            self.problem(name, "is not a key this tool knows, so it would be ignored.", hint)

    def str_list(self, data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{where}.{key}", f"expected a list of strings, got {value!r}.",
                         f"write {key} = [\"a\", \"b\"].")
            return ()
        return tuple(value)

    def path(self, data: dict[str, Any], key: str, where: str, base: Path) -> Path:
        raw = self.str_(data, key, where)
        if raw is None:
            return base / "<missing>"
        p = Path(raw).expanduser()
        p = p if p.is_absolute() else (base / p)
        if not p.exists():
            self.problem(f"{where}.{key}", f"the file {p} does not exist.",
                         "correct the path; relative paths are read from the profile's folder.")
        return p

    def provenance(self, data: dict[str, Any], where: str) -> Provenance:
        prov = self.table(data, "provenance", required=False)
        if not prov:
            self.problem(f"{where}.provenance", "is missing.",
                         f"add a [{where}.provenance] table with publisher, licence and attribution.")
            return Provenance(publisher="unknown", licence="unknown", attribution="")
        sub = f"{where}.provenance"
        self.unknown(prov, "provenance", sub)
        publisher = self.str_(prov, "publisher", sub) or "unknown"
        licence = self.str_(prov, "licence", sub, required=False, default="") or ""
        agreement = self.str_(prov, "agreement", sub, required=False, default="") or ""
        if not licence and not agreement:
            self.problem(sub, "names neither a licence nor a data-sharing agreement.",
                         "add licence = \"...\" or agreement = \"DSA reference\".")
        return Provenance(
            publisher=publisher,
            licence=licence,
            attribution=self.str_(prov, "attribution", sub) or "",
            date=str(prov.get("date", "")),
            agreement=agreement,
            url=self.str_(prov, "url", sub, required=False, default="") or "",
        )


def _date(reader: _Reader, data: dict[str, Any], key: str, where: str) -> date | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        reader.problem(f"{where}.{key}", f"expected a date like 2009-01-01, got {value!r}.",
                       f"write {key} = 2009-01-01.")
        return None


def _read_toml(path: Path) -> dict[str, Any]:
    file = str(path)
    if not path.exists():
        raise ProfileError([Problem(file, "the profile file does not exist.",
                                    "give the path of a .toml profile, e.g. sample_data/london.toml.")])
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError([Problem(file, f"is not valid TOML ({exc}).",
                                    "fix the syntax; see the README's profile example.")]) from exc


def _areas_spec(r: _Reader, data: dict[str, Any], base: Path) -> AreasSpec:
    a = r.table(data, "areas")
    r.unknown(a, "areas", "areas")
    groups_raw = a.get("groups", {})
    groups: tuple[tuple[str, str], ...] = ()
    if isinstance(groups_raw, dict) and all(isinstance(v, str) for v in groups_raw.values()):
        groups = tuple((str(k), str(v)) for k, v in groups_raw.items())
    else:
        r.problem("areas.groups", f"expected a table of label = \"column\", got {groups_raw!r}.",
                  "write groups = { borough = \"ltla24_name\" }.")
    return AreasSpec(
        path=r.path(a, "path", "areas", base),
        id=r.str_(a, "id", "areas") or "",
        name=r.str_(a, "name", "areas") or "",
        provenance=r.provenance(a, "areas"),
        groups=groups,
        layer=r.str_(a, "layer", "areas", required=False),
        crs=r.str_(a, "crs", "areas", required=False),
        repair_geometry=r.bool_(a, "repair_geometry", "areas", False),
    )


def _incident_filters(r: _Reader, i: dict[str, Any]) -> tuple[IncidentFilter, ...]:
    filters: list[IncidentFilter] = []
    filters_raw = i.get("filters", []) or []
    if not isinstance(filters_raw, list):
        r.problem("incidents.filters", f"expected a list of filters, got {filters_raw!r}.",
                  "write filters = [{ column = \"motive\", values = [\"Accidental\"] }].")
        filters_raw = []
    for fi, f in enumerate(filters_raw):
        where = f"incidents.filters[{fi}]"
        if not isinstance(f, dict) or "column" not in f or "values" not in f:
            r.problem(where, "expected { column = \"...\", values = [...] }.",
                      "write filters = [{ column = \"motive\", values = [\"Accidental\"] }].")
            continue
        r.unknown(f, "filters", where)
        column = r.str_(f, "column", where)
        values = r.str_list(f, "values", where)
        if column and values:
            filters.append(IncidentFilter(column, values))
    return tuple(filters)


def _incident_duplicates(r: _Reader, i: dict[str, Any]) -> dict[str, Any]:
    """The incident number, the duplicate policy and the tolerance for dropped rows."""
    policy = i.get("duplicates", "check")
    if policy not in DUPLICATE_POLICIES:
        r.problem("incidents.duplicates", f"expected one of {', '.join(DUPLICATE_POLICIES)}, "
                  f"got {policy!r}.", 'write duplicates = "keep" (every row is an incident) '
                  'or "drop" (exact repeats are dropped).')
        policy = "check"
    return {"id": r.str_(i, "id", "incidents", required=False), "duplicates": str(policy),
            "max_dropped_percent": r.number(i, "max_dropped_percent", "incidents", 5.0,
                                            low=0.0, high=100.0)}


def _incidents_spec(r: _Reader, data: dict[str, Any], base: Path) -> IncidentsSpec:
    i = r.table(data, "incidents")
    r.unknown(i, "incidents", "incidents")
    incidents = IncidentsSpec(
        path=r.path(i, "path", "incidents", base),
        date=r.str_(i, "date", "incidents") or "",
        provenance=r.provenance(i, "incidents"),
        x=r.str_(i, "x", "incidents", required=False),
        y=r.str_(i, "y", "incidents", required=False),
        crs=r.str_(i, "crs", "incidents", required=False),
        layer=r.str_(i, "layer", "incidents", required=False),
        date_format=r.str_(i, "date_format", "incidents", required=False),
        other_date_formats=r.str_list(i, "other_date_formats", "incidents"),
        type=r.str_(i, "type", "incidents", required=False),
        filters=_incident_filters(r, i),
        drop_columns=r.str_list(i, "drop_columns", "incidents"),
        **r.csv_layout(i, "incidents"),
        **_incident_duplicates(r, i),
    )
    if incidents.path.suffix.lower() in (".csv", ".gz", ".txt") and not (incidents.x and incidents.y):
        r.problem("incidents.x / incidents.y", "a CSV incident file needs coordinate columns.",
                  "add x = \"easting\" and y = \"northing\" (and crs = \"EPSG:27700\"), "
                  "or x = \"longitude\", y = \"latitude\" with crs = \"EPSG:4326\".")
    return incidents


def _covariate_specs(r: _Reader, data: dict[str, Any], base: Path) -> tuple[CovariateSpec, ...]:
    covariates: list[CovariateSpec] = []
    cov_raw = data.get("covariates", [])
    if not isinstance(cov_raw, list) or not cov_raw:
        r.problem("covariates", "expected at least one [[covariates]] table.",
                  "add [[covariates]] with name, path and key.")
        cov_raw = []
    for ci, c in enumerate(cov_raw):
        where = f"covariates[{ci}]"
        if not isinstance(c, dict):
            r.problem(where, "expected a table.", "write [[covariates]] with name, path and key.")
            continue
        r.unknown(c, "covariates", where)
        covariates.append(CovariateSpec(
            name=r.str_(c, "name", where) or f"table{ci}",
            path=r.path(c, "path", where, base),
            key=r.str_(c, "key", where) or "",
            provenance=r.provenance(c, where),
            drop_columns=r.str_list(c, "drop_columns", where),
            **r.csv_layout(c, where),
        ))
    names = [c.name for c in covariates]
    if len(set(names)) != len(names):
        r.problem("covariates", f"table names must be unique, got {names}.", "rename the duplicates.")
    return tuple(covariates)


def _exposure_spec(r: _Reader, data: dict[str, Any]) -> ExposureSpec:
    e = r.table(data, "exposure")
    r.unknown(e, "exposure", "exposure")
    return ExposureSpec(column=r.str_(e, "column", "exposure") or "",
                        label=r.str_(e, "label", "exposure", required=False) or "households",
                        range=r.range_(e, "range", "exposure"))


def _feature_spec(r: _Reader, fname: str, f: dict[str, Any]) -> FeatureSpec:
    where = f"features.{fname}"
    r.unknown(f, "features", where)
    column = r.str_(f, "column", where, required=False)
    numerator = r.str_list(f, "numerator", where)
    denominator = r.str_(f, "denominator", where, required=False)
    if bool(column) == bool(numerator):
        r.problem(where, "give exactly one of column, or numerator with denominator.",
                  "write column = \"IMD_score\" or numerator = [...] and denominator = \"...\".")
    if numerator and not denominator:
        r.problem(where, "numerator needs a denominator.", "add denominator = \"total_households\".")
    unit = f.get("unit", "percent" if numerator else "number")
    if unit not in ("percent", "score", "number"):
        r.problem(f"{where}.unit", f"expected percent, score or number, got {unit!r}.",
                  "use unit = \"percent\" for shares.")
    scale = r.number(f, "scale", where, 1.0, low=1e-9, high=1e9)
    if "scale" in f and numerator:
        r.problem(f"{where}.scale", "applies to a single column, not to a share of numerator "
                  "over denominator (a share is always from 0 to 1).", "remove scale.")
    return FeatureSpec(name=fname, label=r.str_(f, "label", where) or fname, column=column,
                       numerator=numerator, denominator=denominator, unit=str(unit),
                       scale=scale, range=r.range_(f, "range", where))


def _feature_specs(r: _Reader, data: dict[str, Any]) -> tuple[FeatureSpec, ...]:
    features: list[FeatureSpec] = []
    f_raw = r.table(data, "features")
    if "features" in data and isinstance(f_raw, dict) and not f_raw:
        r.problem("features", "holds no feature.",
                  "add at least one [features.NAME] table, e.g. [features.imd_score] with "
                  "column = \"IMD_score\".")
    for fname, f in f_raw.items():
        if not isinstance(f, dict):
            r.problem(f"features.{fname}", "expected a table.",
                      f"write [features.{fname}] with column = \"...\".")
            continue
        features.append(_feature_spec(r, fname, f))
    return tuple(features)


def _study_spec(r: _Reader, data: dict[str, Any]) -> StudySpec:
    s = r.table(data, "study", required=False)
    r.unknown(s, "study", "study")
    study = StudySpec(start=_date(r, s, "start", "study"), end=_date(r, s, "end", "study"),
                      history_years=r.int_(s, "history_years", "study", 5, minimum=1) or 5,
                      accept_incomplete=r.int_list(s, "accept_incomplete", "study"))
    if study.start and study.end and study.start > study.end:
        r.problem("study", f"start {study.start} is after end {study.end}.", "swap them.")
    return study


def _model_spec(r: _Reader, data: dict[str, Any]) -> ModelSpec:
    m = r.table(data, "model", required=False)
    r.unknown(m, "model", "model")
    family = m.get("family", "auto")
    if family not in FAMILIES:
        r.problem("model.family", f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}.",
                  "write family = \"auto\".")
        family = "auto"
    return ModelSpec(
        family=str(family),
        history=r.bool_(m, "history", "model", True),
        spatial_lag=r.bool_(m, "spatial_lag", "model", False),
        simulations=r.int_(m, "simulations", "model", 2000, minimum=100) or 2000,
        seed=r.int_(m, "seed", "model", 12345) or 0,
    )


def _evaluation_spec(r: _Reader, data: dict[str, Any]) -> EvaluationSpec:
    ev = r.table(data, "evaluation", required=False)
    r.unknown(ev, "evaluation", "evaluation")
    spec = EvaluationSpec(
        first=r.int_(ev, "first", "evaluation", None),
        last=r.int_(ev, "last", "evaluation", None),
        window_years=r.int_(ev, "window_years", "evaluation", 5, minimum=1) or 5,
        bootstrap=r.int_(ev, "bootstrap", "evaluation", 500, minimum=0) or 0,
        seed=r.int_(ev, "seed", "evaluation", 20240601) or 0,
    )
    if spec.first is not None and spec.last is not None and spec.first > spec.last:
        r.problem("evaluation", f"first = {spec.first} is after last = {spec.last}, so the "
                  "backtest would have no origin year.",
                  f"swap them (first = {spec.last}, last = {spec.first}), or remove last.")
    return spec


def _bands_spec(r: _Reader, data: dict[str, Any]) -> BandsSpec:
    b = r.table(data, "bands", required=False)
    r.unknown(b, "bands", "bands")
    labels = r.str_list(b, "labels", "bands") or DEFAULT_BAND_LABELS
    k = r.int_(b, "k", "bands", len(labels), minimum=2) or len(labels)
    if len(labels) != k:
        r.problem("bands.labels", f"{len(labels)} labels given for k = {k} bands.",
                  "give one label per band, lowest first.")
    return BandsSpec(scheme=str(b.get("scheme", "quantiles")), k=k, labels=labels,
                     title=str(b.get("title", BandsSpec.title)))


def _disclosure_spec(r: _Reader, data: dict[str, Any]) -> DisclosureSpec:
    d = r.table(data, "disclosure", required=False)
    r.unknown(d, "disclosure", "disclosure")
    mode = d.get("mode", "internal")
    if mode not in MODES:
        r.problem("disclosure.mode", f"expected internal or public, got {mode!r}.",
                  "write mode = \"internal\" (service staff) or \"public\".")
        mode = "internal"
    return DisclosureSpec(threshold=r.int_(d, "threshold", "disclosure", 5, minimum=3) or 5,
                          mode=str(mode))


def _stations_spec(r: _Reader, data: dict[str, Any], base: Path) -> StationsSpec | None:
    st = r.table(data, "stations", required=False)
    if not st:
        return None
    r.unknown(st, "stations", "stations")
    return StationsSpec(path=r.path(st, "path", "stations", base),
                        key=r.str_(st, "key", "stations") or "",
                        station=r.str_(st, "station", "stations") or "",
                        provenance=r.provenance(st, "stations"),
                        **r.csv_layout(st, "stations"))


def load_profile(path: str | Path) -> Profile:
    """Read and check a dataset profile.

    Each table is read by its own step below; every problem found in any of them is
    collected, then raised once.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Listing every missing key, wrong type and missing file at once.
    """
    path = Path(path)
    data = _read_toml(path)
    problems: list[Problem] = []
    r = _Reader(str(path), problems)
    base = path.resolve().parent
    r.unknown(data, "(top level)", "(top level)")
    profile = Profile(
        name=r.str_(data, "name", "(top level)") or path.stem,
        service=r.str_(data, "service", "(top level)", required=False) or "",
        source=path.resolve(),
        areas=_areas_spec(r, data, base),
        incidents=_incidents_spec(r, data, base),
        covariates=_covariate_specs(r, data, base),
        exposure=_exposure_spec(r, data),
        features=_feature_specs(r, data),
        study=_study_spec(r, data),
        model=_model_spec(r, data),
        evaluation=_evaluation_spec(r, data),
        bands=_bands_spec(r, data),
        disclosure=_disclosure_spec(r, data),
        stations=_stations_spec(r, data, base),
        working_crs=r.str_(data, "working_crs", "(top level)", required=False),
        contact=str(data.get("contact", "")),
    )
    if problems:
        raise ProfileError(problems)
    return profile
