"""The build pipeline: profile in, results GeoPackage out.

``load -> validate -> aggregate`` (geo) ``-> features -> model -> evaluate -> bands ->
uncertainty -> explanations -> disclosure control`` (risk) ``-> write`` (geo.results).

Disclosure control is applied here, once, to every table before it is written: the app,
the CSV export and the PDFs only ever read the protected results file.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from firerisk.columns import (
    AREA_ID,
    AREA_NAME,
    BAND,
    BAND_INDEX,
    EXPECTED,
    HOUSEHOLDS,
    IMD_DECILE,
    MODEL_NOTE,
    OBS_RECENT,
    P_TOP10,
    PI_HIGH,
    PI_LOW,
    RANK,
    RISK_PER_1000,
    uncertainty_columns,
)
from firerisk.geo.checksum import file_sha256
from firerisk.geo.profile import load_profile
from firerisk.specs import Profile

__all__ = ["BuildOutputs", "CheckReport", "Prepared", "build", "check", "compute", "evaluate",
           "file_sha256", "model_config", "prepare"]

Progress = Callable[[str, float | None], None]

WITHHELD_TOTAL = "[c]"
HISTORY_WITHHELD = "More fires here in recent years than the service average"

_PACKAGES = ("firerisk", "geopandas", "shapely", "pyogrio", "pyproj", "pandas", "numpy",
             "statsmodels", "libpysal", "esda", "mapclassify", "streamlit", "folium", "matplotlib")


def _noop(message: str, fraction: float | None = None) -> None:
    return None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def model_config(profile: Profile) -> Any:
    """The model configuration implied by a profile."""
    from firerisk.risk.model import ModelConfig

    return ModelConfig(
        family=profile.model.family,  # type: ignore[arg-type]  # checked by load_profile
        features=tuple(f.name for f in profile.features),
        history=profile.model.history,
        history_years=profile.study.history_years,
        spatial_lag=profile.model.spatial_lag,
    )


@dataclass(frozen=True)
class BuildOutputs:
    """Everything the build computed, before it is written (kept in memory for tests)."""

    profile: Profile
    areas: gpd.GeoDataFrame = field(repr=False)
    targets: pd.DataFrame = field(repr=False)
    run: dict[str, dict[str, Any]] = field(repr=False)
    provenance: pd.DataFrame = field(repr=False)
    band_breaks: pd.DataFrame = field(repr=False)
    extra: dict[str, pd.DataFrame] = field(repr=False)


def _weights(areas: gpd.GeoDataFrame) -> Any:
    from libpysal.weights import Queen

    return Queen.from_dataframe(areas.reset_index(drop=True), ids=list(areas[AREA_ID]),
                                use_index=False, silence_warnings=True)


def _provenance_table(profile: Profile, inputs: Any, checksums: dict[str, str]) -> pd.DataFrame:
    rows = []
    for role, path in profile.input_files().items():
        prov = profile.provenance()[role]
        counts = inputs.input_rows.get(role)
        rows.append({
            "role": role,
            "file": path.name,
            "publisher": prov.publisher,
            "licence": prov.licence,
            "agreement": prov.agreement,
            "date": prov.date,
            "url": prov.url,
            "sha256": checksums[role],
            "rows_read": None if counts is None else counts.rows_read,
            "rows_used": None if counts is None else counts.rows_used,
            "rows_dropped": None if counts is None else counts.rows_dropped,
            "attribution": prov.attribution,
        })
    return pd.DataFrame(rows)


def _published_history(reasons: pd.DataFrame, published_total: pd.Series) -> pd.DataFrame:
    """Put the protected multi-year total into history sentences.

    The explanation step writes counts as ``\x00n\x00`` tokens. Where the area's published
    total is an exact number, the token becomes that number. Where the total is withheld
    (``<5`` or ``[c]``), the whole history sentence becomes one fixed sentence with no
    figures: the sentence is only written when fires exceed the expected number, so
    "<5 fires (typical for this many homes: 3)" would reveal exactly 4.
    """
    out = reasons.copy()
    shown = published_total.reindex(out.index).fillna(WITHHELD_TOTAL).astype(str)
    withheld = ~shown.str.fullmatch(r"\d+")
    for col in out.columns:
        text = out[col].where(out[col].notna(), "").astype(str)
        history = text.str.contains("\x00", regex=False) | text.str.startswith(
            "Fires here in past years")
        parts = text.str.extract(r"^(?P<head>.*?)\x00\d+\x00(?P<tail>.*)$", expand=True)
        filled = parts["head"] + shown + parts["tail"]
        text = text.where(parts["head"].isna(), filled)
        out[col] = text.where(~(history & withheld), HISTORY_WITHHELD)
    return out


@dataclass(frozen=True, eq=False)
class Prepared:
    """The checked inputs every command starts from: areas, counts and model features."""

    inputs: Any = field(repr=False)
    areas: gpd.GeoDataFrame = field(repr=False)
    ids: pd.Index = field(repr=False)
    counts: pd.DataFrame = field(repr=False)
    covariates: pd.DataFrame = field(repr=False)
    full_years: list[int] = field(default_factory=list)
    #: The station of every area (when the profile has a [stations] lookup).
    stations: pd.Series | None = field(default=None, repr=False)
    #: Losses worth a warning (see geo.quality), printed by check and build.
    warnings: tuple[str, ...] = ()


def prepare(profile: Profile, *, progress: Progress | None = None, evaluate: bool = True,
            origins: tuple[int, int] | None = None,
            warn: Callable[[str], None] | None = None) -> Prepared:
    """Guard, read, check and aggregate the inputs, build the model features, and check
    the plan (bands, model options, backtest origins) before anything is fitted.

    ``check`` runs exactly this, so it refuses whatever ``build`` would refuse.

    Parameters
    ----------
    profile : Profile
    progress : callable, optional
    evaluate : bool
        The backtest will run: its origins are checked too.
    origins : (first, last), optional
        Backtest origins from the command line, checked instead of the profile's.
    warn : callable, optional
        Called with each warning (losses above 1 %, see geo.quality).

    Raises
    ------
    PersonalDataError, InputFileError, FeatureError, ProfileError, UnsafeFileError
        Listing every problem found.
    """
    from firerisk.errors import InputFileError, Problem
    from firerisk.geo.guard import check_profile_inputs
    from firerisk.geo.ingest import load_inputs
    from firerisk.preflight import plan_problems
    from firerisk.risk.features import build_features

    say = progress or _noop
    say("Checking the input files for personal data", 0.04)
    check_profile_inputs(profile)
    say("Reading and checking the input files", 0.08)
    inputs = load_inputs(profile, progress=lambda m: say(m, None))
    areas = inputs.areas.reset_index(drop=True)
    ids = pd.Index(areas[AREA_ID], name=AREA_ID)
    full_years = list(inputs.years.full_years)
    if len(full_years) < 2:
        raise InputFileError([Problem(
            str(profile.incidents.path),
            f"the incidents cover {len(full_years)} full calendar year(s); the model needs at "
            "least 2.",
            "supply at least two full years of incidents, or widen [study] start/end.",
            column=profile.incidents.date)])
    say("Building the model's features", 0.25)
    covariates = build_features(inputs.covariates_raw.reindex(ids), features=profile.features,
                                exposure=profile.exposure)
    stations = None
    if profile.stations is not None:
        from firerisk.geo.stations import read_station_lookup

        say("Reading the area-to-station lookup", None)
        stations = read_station_lookup(profile.stations, ids)
    plan_problems(profile, full_years, evaluate=evaluate, origins=origins)
    for message in inputs.warnings:
        (warn or (lambda _m: None))(message)
    return Prepared(inputs=inputs, areas=areas, ids=ids,
                    counts=inputs.counts.reindex(ids).fillna(0).astype(int),
                    covariates=covariates, full_years=full_years, stations=stations,
                    warnings=tuple(inputs.warnings))


def _figure(value: float) -> str:
    """A figure for people: 3 significant digits, thousands separated, never exponents."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


@dataclass(frozen=True)
class CheckReport:
    """What ``firerisk check`` found: the inputs are usable, and how every row was used.

    Holds service-wide figures only (no area's count), so it is safe to paste into a
    ticket or an e-mail.
    """

    profile: str
    source: str
    working_crs: str
    areas: int
    groups: dict[str, int]
    accounting: dict[str, Any]
    full_years: tuple[int, ...]
    partial_years: tuple[str, ...]
    covariates: tuple[dict[str, Any], ...]
    features: tuple[dict[str, Any], ...]
    boundary_ties: int
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Plain-text report, one fact a line."""
        acc = self.accounting
        out = [f"Profile: {self.profile}",
               f"Areas: {self.areas:,} (working CRS {self.working_crs})"]
        out += [f"  {label}: {n:,} groups" for label, n in self.groups.items()]
        out.append(f"Incidents: {acc['rows_read']:,} rows read, {acc['rows_used']:,} used")
        out += [f"  {n:,} dropped: {reason}" for reason, n in acc["dropped"].items() if n]
        if self.boundary_ties:
            out.append(f"  {self.boundary_ties:,} on a boundary between areas (each counted "
                       "once)")
        out += [f"Warning: {w}" for w in self.warnings]
        years = self.full_years
        out.append(f"Full years: {years[0]}-{years[-1]} ({len(years)})" if years else
                   "Full years: none")
        out += [f"Partial year (never used as a full year): {p}" for p in self.partial_years]
        for c in self.covariates:
            dropped = ", ".join(f"{n:,} {r}" for r, n in c["dropped"].items() if n)
            out.append(f"Table {c['name']}: {c['rows_read']:,} rows read, {c['rows_used']:,} "
                       f"used" + (f" (dropped: {dropped})" if dropped else ""))
        for f in self.features:
            scale, unit = (100.0, "%") if f["unit"] == "percent" else (1.0, "")
            lo, mid, hi = (_figure(f[k] * scale) + unit for k in ("min", "median", "max"))
            missing = f" ({f['missing']:,} areas have no value)" if f["missing"] else ""
            out.append(f"Feature {f['name']} ({f['label']}): {lo} to {hi}, median {mid}"
                       f"{missing}")
        out += [f"Note: {n}" for n in self.notes]
        out.append(f"Ready to build: firerisk build --config {self.source} "
                   "--out RESULTS.gpkg")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON."""
        return {"profile": self.profile, "source": self.source, "working_crs": self.working_crs, "areas": self.areas,
                "groups": self.groups, "incidents": self.accounting,
                "full_years": list(self.full_years), "partial_years": list(self.partial_years),
                "covariates": list(self.covariates), "features": list(self.features),
                "boundary_ties": self.boundary_ties, "notes": list(self.notes),
                "warnings": list(self.warnings)}


def check(profile: Profile | str | Path, *, progress: Progress | None = None) -> CheckReport:
    """Run every input check of a build (personal-data guard, reading, validation,
    aggregation, features, the plan: bands, model options, backtest origins) without
    fitting anything, and report what was found.

    Raises
    ------
    ProfileError, PersonalDataError, InputFileError, FeatureError, UnsafeFileError
        Listing every problem found, as ``build`` would.
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    prep = prepare(prof, progress=progress)
    inputs = prep.inputs
    groups = {label: int(prep.areas[label].nunique()) for label in prof.areas.group_columns
              if label in prep.areas.columns}
    partial = tuple(f"{span.year} ({span.first:%d %b} to {span.last:%d %b})"
                    for span in inputs.years if not span.full)
    covs = tuple({"name": c.name, "rows_read": c.rows_read, "rows_used": c.rows_used,
                  "dropped": dict(c.dropped)} for c in inputs.covariate_accounting)
    feats = []
    for spec in prof.features:
        values = pd.to_numeric(prep.covariates[spec.name], errors="coerce")
        feats.append({"name": spec.name, "label": spec.label, "unit": spec.unit,
                      "min": float(values.min()), "median": float(values.median()),
                      "max": float(values.max()), "missing": int(values.isna().sum())})
    # Partial years and boundary ties have report lines of their own.
    notes = tuple(n for n in inputs.notes
                  if not n.startswith(("Partial years", f"{inputs.boundary_ties:,} incidents lie on a boundary")))
    notes += tuple(prep.covariates.attrs.get("notes", ()))
    return CheckReport(profile=prof.name, source=str(prof.source),
                       working_crs=inputs.working_crs,
                       areas=len(prep.areas), groups=groups,
                       accounting=inputs.accounting.as_dict(),
                       full_years=tuple(prep.full_years), partial_years=partial,
                       covariates=covs, features=tuple(feats),
                       boundary_ties=int(inputs.boundary_ties), notes=notes,
                       warnings=prep.warnings)


@dataclass(frozen=True, eq=False)
class _Modelled:
    """The model's outputs for every area, before anything is published."""

    fit: Any
    rate: pd.Series
    bands: Any
    uncertainty: Any
    reasons: pd.DataFrame


def _area_context(profile: Profile, prepared: Prepared,
                  say: Progress) -> tuple[gpd.GeoDataFrame, list[str], pd.Series | None]:
    """The areas with every grouping column (station grounds included) and the IMD decile."""
    areas, ids = prepared.areas, prepared.ids
    group_labels = [label for label, _ in profile.areas.groups]
    if prepared.stations is not None:  # read and checked by prepare
        from firerisk.geo.stations import STATION_LABEL

        areas[STATION_LABEL] = prepared.stations.reindex(ids).to_numpy()
        group_labels.append(STATION_LABEL)
    raw = prepared.inputs.covariates_raw
    imd_decile = raw["IMD_decile"].reindex(ids) if "IMD_decile" in raw.columns else None
    return areas, group_labels, imd_decile


def _group_columns(areas: gpd.GeoDataFrame, group_labels: list[str]) -> dict[str, pd.Series]:
    """Each grouping column by area id: the simulation ranks areas inside them too."""
    by_id = areas.set_index(AREA_ID)
    return {label: by_id[label] for label in group_labels}


def _model(profile: Profile, prepared: Prepared, weights: Any, say: Progress,
           groups: dict[str, pd.Series] | None = None) -> _Modelled:
    """Fit, band, simulate and explain: every per-area model output."""
    from firerisk.risk.bands import classify
    from firerisk.risk.explain import explain_fit
    from firerisk.risk.model import fit_predict
    from firerisk.risk.uncertainty import simulate

    full_years, ids = prepared.full_years, prepared.ids
    next_year = max(full_years) + 1
    say(f"Fitting the model to {min(full_years)}-{max(full_years)} (forecast for {next_year})",
        0.35)
    fit = fit_predict(prepared.counts[full_years], prepared.covariates, target_year=next_year,
                      config=model_config(profile), weights=weights)
    say("Sorting areas into priority bands", 0.45)
    rate = fit.rate_per_1000.reindex(ids)
    bands = classify(rate, scheme=profile.bands.scheme, k=profile.bands.k,
                     labels=profile.bands.labels, title=profile.bands.title)
    say(f"Simulating {profile.model.simulations:,} years for the uncertainty", 0.5)
    unc = simulate(fit, n_sim=profile.model.simulations, seed=profile.model.seed, bands=bands,
                   rank_by="rate", groups=groups)
    say("Writing the plain-language reasons", 0.6)
    reasons = explain_fit(fit, features=profile.features,
                          count_formatter=lambda n: f"\x00{int(n)}\x00")
    return _Modelled(fit=fit, rate=rate, bands=bands, uncertainty=unc, reasons=reasons)


def _protect(profile: Profile, prepared: Prepared, areas: gpd.GeoDataFrame,
             group_labels: list[str], recent: list[int]) -> Any:
    """Primary and secondary suppression of the area-by-year table (``ProtectedCounts``)."""
    from firerisk.risk.disclosure import DisclosurePolicy, protect_counts

    policy = DisclosurePolicy(threshold=profile.disclosure.threshold, mode="internal")
    first_group = group_labels[0] if group_labels else None
    return protect_counts(
        prepared.counts.rename(columns=lambda y: f"obs_{y}"),
        groups=areas.set_index(AREA_ID)[first_group] if first_group else None,
        policy=policy, total_label=OBS_RECENT,
        total_years=[f"obs_{y}" for y in recent],
        grand_label="All areas" if first_group else None,
    )


def _publication_rank(exact_rate: np.ndarray, exact_expected: np.ndarray,
                      area_ids: np.ndarray) -> np.ndarray:
    """Rank 1 = highest expected fires per 1,000 households (see README, Method)."""
    order = np.lexsort((area_ids, -np.nan_to_num(exact_expected, nan=-1.0),
                        -np.nan_to_num(exact_rate, nan=-1.0)))
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(1, len(order) + 1)
    return rank


def _area_table(profile: Profile, prepared: Prepared, areas: gpd.GeoDataFrame,
                group_labels: list[str], imd_decile: pd.Series | None, modelled: _Modelled,
                protected: Any, reasons: pd.DataFrame) -> pd.DataFrame:
    """One row per area with every published column (internal mode)."""
    ids, covariates = prepared.ids, prepared.covariates
    out = areas[[AREA_ID, AREA_NAME, *group_labels]].copy()
    out[HOUSEHOLDS] = covariates[HOUSEHOLDS].reindex(ids).to_numpy()
    for feature in profile.features:
        out[feature.name] = covariates[feature.name].reindex(ids).to_numpy()
    if imd_decile is not None:
        out[IMD_DECILE] = imd_decile.to_numpy()
    for col in protected.area_table.columns:
        out[col] = protected.area_table[col].reindex(ids).to_numpy()
    # Model outputs are published rounded: at full precision, expected fires together with
    # the coefficients and features would let a reader work back the (suppressed) history
    # counts the model was fitted on. Ranking uses the unrounded values.
    exact_expected = modelled.fit.expected.reindex(ids).to_numpy()
    exact_rate = modelled.rate.to_numpy()
    out[EXPECTED] = np.round(exact_expected, 1)
    out[RISK_PER_1000] = np.round(exact_rate, 1)
    out[RANK] = _publication_rank(exact_rate, exact_expected, out[AREA_ID].to_numpy())
    out[BAND_INDEX] = modelled.bands.band_index.reindex(ids).astype("Int64").to_numpy()
    out[BAND] = modelled.bands.band_label.reindex(ids).to_numpy()
    uf = modelled.uncertainty.frame().reindex(ids)
    out[PI_LOW] = uf[PI_LOW].to_numpy()
    out[PI_HIGH] = uf[PI_HIGH].to_numpy()
    out[P_TOP10] = np.round(uf[P_TOP10].to_numpy(dtype=float), 2)
    ranges = _rank_ranges(modelled.uncertainty, out, group_labels)
    for col in ranges.columns:
        out[col] = ranges[col].to_numpy()
    for i, col in enumerate(reasons.columns[:3], start=1):
        out[f"reason_{i}"] = reasons[col].fillna("").to_numpy()
    out[MODEL_NOTE] = modelled.fit.flags.reindex(ids).fillna("").to_numpy()
    return out


def _rank_ranges(uncertainty: Any, out: pd.DataFrame, group_labels: list[str]) -> pd.DataFrame:
    """Ranges of ranks, top-10% chances inside each group and the band range, as published.

    They replace the old "band uncertain" flag. Model outputs derived from the areas' counts,
    so published coarsened (ranges rounded outward, chances to 2 decimals;
    ``risk.uncertainty.coarse_range``) and dropped in public mode, except each area's
    place in its group (``rank_in_<label>``), which follows from the published rank. In-group
    places come from the published rank, so they agree with the list.
    """
    from firerisk.columns import (
        BAND_CHANCE,
        BAND_INDEX_HIGH,
        BAND_INDEX_LOW,
        RANK_HIGH,
        RANK_LOW,
        group_rank_columns,
    )
    from firerisk.risk.uncertainty import coarse_range

    ids = pd.Index(out[AREA_ID])
    table = pd.DataFrame(index=out.index)
    n_live = int(uncertainty.rank.notna().sum())
    low, high = coarse_range(uncertainty.rank_low.reindex(ids).to_numpy(),
                             uncertainty.rank_high.reindex(ids).to_numpy(), n_live)
    table[RANK_LOW], table[RANK_HIGH] = low, high
    table[BAND_INDEX_LOW] = pd.array(uncertainty.band_low.reindex(ids).to_numpy(), dtype="Int64")
    table[BAND_INDEX_HIGH] = pd.array(uncertainty.band_high.reindex(ids).to_numpy(),
                                      dtype="Int64")
    table[BAND_CHANCE] = np.round(uncertainty.band_chance.reindex(ids).to_numpy(), 2)
    for label in group_labels:
        ranks = uncertainty.groups.get(label)
        if ranks is None:
            continue
        rank_col, low_col, high_col, top_col = group_rank_columns(label)
        table[rank_col] = out.groupby(label, dropna=False)[RANK].rank(method="first").astype(
            int).to_numpy()
        low, high = coarse_range(ranks.rank_low.reindex(ids).to_numpy(),
                                 ranks.rank_high.reindex(ids).to_numpy(),
                                 ranks.size.reindex(ids).to_numpy())
        table[low_col], table[high_col] = low, high
        table[top_col] = np.round(ranks.p_top.reindex(ids).to_numpy(dtype=float), 2)
    return table


def _public_rewrite(out: pd.DataFrame, count_cols: list[str],
                    model_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """Public mode: bands and ranks only, and reasons that mention no fire figure."""
    from firerisk.risk.disclosure import public_view

    rate_cols = [EXPECTED, RISK_PER_1000, PI_LOW, PI_HIGH, P_TOP10,
                 *[c for c in model_cols if c in out.columns]]
    out = public_view(out, count_columns=count_cols, rate_columns=rate_cols)
    for col in ("reason_1", "reason_2", "reason_3"):
        if col in out:
            out[col] = [r if "\x00" not in r and "fire" not in r.lower() else
                        "More fires than expected for an area like this in recent years"
                        for r in out[col]]
    return out


def _disclosure_report(protected: Any, *, mode: str, threshold: int) -> Any:
    from firerisk.risk.disclosure import DisclosureReport

    if mode == "public":
        return DisclosureReport(threshold=threshold, mode=mode, primary_cells=0,
                                secondary_cells=0, person_level_data_read=False,
                                notes=("Public mode: no incident counts or rates are published.",))
    rounding_note = ("Model outputs (expected fires, rates, chances) are published rounded, to "
                     "make it impractical to work back the suppressed counts they were fitted on.")
    return DisclosureReport.from_protected(protected, person_level_data_read=False,
                                           notes=(rounding_note,))


def _run_sections(profile: Profile, prepared: Prepared, *, group_labels: list[str],
                  fit: Any, report: Any, mode: str, checksums: dict[str, str],
                  started: datetime, evaluation_summary: dict[str, Any]) -> dict[str, Any]:
    """The ``run`` layer: profile, years, accounting, model, disclosure, versions, build."""
    inputs, full_years = prepared.inputs, prepared.full_years
    finished = datetime.now(UTC)
    return {
        "profile": {
            "name": profile.name, "service": profile.service, "source": profile.source.name,
            "groups": group_labels, "contact": profile.contact,
            "exposure": profile.exposure.label,
            "features": {f.name: {"label": f.label, "unit": f.unit} for f in profile.features},
            "bands": {"scheme": profile.bands.scheme, "k": profile.bands.k,
                      "labels": list(profile.bands.labels), "title": profile.bands.title},
        },
        "years": {
            "full": full_years, "partial": list(inputs.years.partial_years),
            "coverage": inputs.years.describe(),
            "spans": [{"year": s.year, "first": s.first, "last": s.last, "full": s.full}
                      for s in inputs.years],
            "next_year": max(full_years) + 1, "recent": list(fit.recent_years),
            "data_first": inputs.data_first, "data_last": inputs.data_last,
        },
        "accounting": inputs.accounting.as_dict(),
        "covariates": {c.name: {"rows_read": c.rows_read, "rows_used": c.rows_used,
                                "dropped": dict(c.dropped)} for c in inputs.covariate_accounting},
        "model": _model_summary(fit, public=mode == "public"),
        "disclosure": {**report.to_dict(), "rule": "see README: Privacy and disclosure"},
        "versions": _versions(),
        "checksums": checksums,
        "build": {"generated_at": finished.isoformat(timespec="seconds"),
                  "seconds": round((finished - started).total_seconds(), 2),
                  "working_crs": inputs.working_crs, "notes": list(inputs.notes) +
                  list(prepared.covariates.attrs.get("notes", ())),
                  "warnings": list(prepared.warnings)},
        "evaluation": evaluation_summary,
    }


def _evaluation_layers(profile: Profile, prepared: Prepared, weights: Any,
                       bootstrap: int | None) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The backtest's layers and its summary for the run layer."""
    from firerisk.risk.evaluate import capture_curve

    result = run_backtest(profile, prepared.counts, prepared.covariates, prepared.full_years,
                          weights=weights, bootstrap=bootstrap,
                          groups=_first_group(profile, prepared.areas))
    doc = result.to_dict()
    layers = {"evaluation": _evaluation_table(doc),
              "evaluation_curve": capture_curve(result).reset_index(drop=True)}
    return layers, {"pooled": doc.get("pooled", {}), "groups": doc.get("groups")}


def _first_group(profile: Profile, areas: gpd.GeoDataFrame) -> pd.Series | None:
    """The first grouping column by area id (named by its label), for the backtest's
    within-group capture; None when the profile has no groups."""
    labels = [label for label, _ in profile.areas.groups if label in areas.columns]
    if not labels:
        return None
    return pd.Series(areas[labels[0]].to_numpy(), index=areas[AREA_ID].to_numpy(),
                     name=labels[0])


def compute(
    profile: Profile | str | Path,
    *,
    progress: Progress | None = None,
    evaluate: bool = True,
    mode: str | None = None,
    bootstrap: int | None = None,
) -> BuildOutputs:
    """Run every step of the build in memory and return what would be written.

    Parameters
    ----------
    profile : Profile or path
        The dataset profile.
    progress : callable, optional
        ``progress(message, fraction)`` at each step.
    evaluate : bool
        Also run the rolling-origin backtest (adds the ``evaluation`` layers).
    mode : {"internal", "public"}, optional
        Output mode; default is the profile's ``[disclosure] mode``.
    bootstrap : int, optional
        Bootstrap resamples for the backtest intervals (default from the profile).
    """
    say = progress or _noop
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    mode = mode or profile.disclosure.mode
    started = datetime.now(UTC)

    # the personal-data guard runs first, in here; then every check `check` runs
    prepared = prepare(profile, progress=say, evaluate=evaluate,
                       warn=lambda w: say(f"Warning: {w}", None))
    say("Computing checksums of the input files", 0.27)
    checksums = {role: file_sha256(path) for role, path in profile.input_files().items()}
    areas, group_labels, imd_decile = _area_context(profile, prepared, say)
    say("Finding neighbouring areas", 0.3)
    weights = _weights(areas)
    modelled = _model(profile, prepared, weights, say, _group_columns(areas, group_labels))

    say("Applying small-number suppression", 0.65)
    protected = _protect(profile, prepared, areas, group_labels, list(modelled.fit.recent_years))
    reasons = _published_history(modelled.reasons.reindex(prepared.ids),
                                 protected.area_table[OBS_RECENT])

    say("Assembling the results", 0.7)
    out = _area_table(profile, prepared, areas, group_labels, imd_decile, modelled, protected,
                      reasons)
    # Rounded like risk_per_1000: the top band's upper limit is the rank-1 area's exact rate.
    band_breaks = modelled.bands.breaks_table().round({"lower": 1, "upper": 1})
    first_group = group_labels[0] if group_labels else None
    extra: dict[str, pd.DataFrame] = {}
    if mode == "public":
        out = _public_rewrite(out, list(protected.area_table.columns),
                              uncertainty_columns(group_labels))
        band_breaks = band_breaks.assign(lower=np.nan, upper=np.nan)
    else:
        extra["coefficients"] = modelled.fit.coef_table().reset_index().round(3)
        extra["group_counts"] = protected.group_table.reset_index().rename(
            columns={"index": first_group or "group"})
    report = _disclosure_report(protected, mode=mode, threshold=profile.disclosure.threshold)

    geo_out = gpd.GeoDataFrame(out, geometry=areas.geometry.to_numpy(), crs=areas.crs)
    targets = pd.DataFrame(geo_out.drop(columns="geometry")).sort_values(RANK).reset_index(drop=True)

    evaluation_summary: dict[str, Any] = {}
    if evaluate:
        say("Backtesting the ranking against simple rules (this takes a while)", 0.75)
        layers, evaluation_summary = _evaluation_layers(profile, prepared, weights, bootstrap)
        extra.update(layers)

    run = _run_sections(profile, prepared, group_labels=group_labels, fit=modelled.fit,
                        report=report, mode=mode, checksums=checksums, started=started,
                        evaluation_summary=evaluation_summary)
    say("Done", 1.0)
    return BuildOutputs(profile=profile, areas=geo_out, targets=targets, run=run,
                        provenance=_provenance_table(profile, prepared.inputs, checksums),
                        band_breaks=band_breaks, extra=extra)


def _model_summary(fit: Any, *, public: bool) -> dict[str, Any]:
    """The model summary for the run layer: figures rounded; in public mode no estimates."""
    summary: dict[str, Any] = {"name": _model_name(fit), **fit.summary()}
    for key in ("alpha", "aic", "deviance", "overdispersion_stat", "residual_moran_i"):
        if isinstance(summary.get(key), float):
            summary[key] = round(summary[key], 3)
    summary["coefficients"] = [{k: (round(v, 3) if isinstance(v, float) else v)
                                for k, v in row.items()} for row in summary["coefficients"]]
    if public:
        for key in ("coefficients", "aic", "deviance", "alpha", "overdispersion_stat"):
            summary.pop(key, None)
    return summary


def _model_name(fit: Any) -> str:
    family = "negative binomial" if fit.family == "negative_binomial" else "Poisson"
    history = " with the area's own fire history" if fit.config.history else ""
    return f"{family} GLM (log households offset){history}"


def _evaluation_table(doc: dict[str, Any]) -> pd.DataFrame:
    rows = []
    pooled = doc.get("pooled", {})
    entries = [("model", pooled.get("model", {}))]
    entries += list(pooled.get("baselines", {}).items())
    for name, metrics in entries:
        row: dict[str, Any] = {"ranking": name}
        for key, value in metrics.items():
            if isinstance(value, (int, float)) or value is None:
                row[key] = value
        ci = metrics.get("ci", {})
        for key, bounds in ci.items():
            if isinstance(bounds, (list, tuple)) and len(bounds) == 2:
                row[f"{key}_low"], row[f"{key}_high"] = bounds
        rows.append(row)
    return pd.DataFrame(rows)


def run_backtest(profile: Profile, counts: pd.DataFrame, covariates: pd.DataFrame,
                 full_years: list[int], *, weights: Any = None, bootstrap: int | None = None,
                 origins: tuple[int, int] | None = None,
                 groups: pd.Series | None = None) -> Any:
    """The rolling-origin backtest configured by the profile's ``[evaluation]`` table."""
    from firerisk.preflight import evaluation_origins
    from firerisk.risk.evaluate import backtest

    ev = profile.evaluation
    chosen, _ = evaluation_origins(ev, full_years, origins=origins)  # checked by prepare
    imd = next((f.name for f in profile.features if "imd" in f.name.lower()), None)
    return backtest(counts[full_years], covariates, full_years=full_years, origins=chosen or None,
                    config=model_config(profile), window_years=ev.window_years,
                    imd_column=imd, bootstrap=ev.bootstrap if bootstrap is None else bootstrap,
                    seed=ev.seed, weights=weights, model_rank="rate", groups=groups)


def evaluate(profile: Profile | str | Path, *, progress: Progress | None = None,
             origins: tuple[int, int] | None = None, bootstrap: int | None = None) -> Any:
    """Load the inputs and run only the backtest (``firerisk evaluate``)."""
    say = progress or _noop
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    prepared = prepare(profile, progress=say, origins=origins,
                       warn=lambda w: say(f"Warning: {w}", None))
    say("Backtesting", 0.3)
    return run_backtest(profile, prepared.counts, prepared.covariates, prepared.full_years,
                        weights=_weights(prepared.areas), bootstrap=bootstrap, origins=origins,
                        groups=_first_group(profile, prepared.areas))


def build(profile: Profile | str | Path, out: str | Path, *, progress: Progress | None = None,
          evaluate: bool = True, mode: str | None = None, bootstrap: int | None = None) -> Path:
    """Build the results GeoPackage for a profile (``firerisk build``).

    Returns
    -------
    Path
        The GeoPackage written.
    """
    from firerisk.geo.results import write_results

    outputs = compute(profile, progress=progress, evaluate=evaluate, mode=mode,
                      bootstrap=bootstrap)
    (progress or _noop)("Writing the GeoPackage", None)
    return write_results(out, areas=outputs.areas, targets=outputs.targets, run=outputs.run,
                         provenance=outputs.provenance, band_breaks=outputs.band_breaks,
                         extra=outputs.extra)
