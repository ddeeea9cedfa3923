"""The dataset profile as typed, frozen specifications, shared by ``geo`` and ``risk``.

These dataclasses are what :func:`firerisk.geo.profile.load_profile` returns. They live in a
neutral module so that ``risk/`` (pure computation) never imports from ``geo/`` (files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

__all__ = [
    "DEFAULT_BAND_LABELS",
    "DUPLICATE_POLICIES",
    "FAMILIES",
    "MODES",
    "AreasSpec",
    "BandsSpec",
    "CovariateSpec",
    "DisclosureSpec",
    "EvaluationSpec",
    "ExposureSpec",
    "FeatureSpec",
    "IncidentFilter",
    "IncidentsSpec",
    "ModelSpec",
    "Profile",
    "Provenance",
    "StationsSpec",
    "StudySpec",
]

DEFAULT_BAND_LABELS = ("Very low", "Low", "Medium", "High", "Very high")
FAMILIES = ("auto", "negative_binomial", "poisson")
MODES = ("internal", "public")
#: ``[incidents] duplicates``: "check" stops above the threshold, "keep" counts every row,
#: "drop" drops exact repeats (keeping the first).
DUPLICATE_POLICIES = ("check", "keep", "drop")

@dataclass(frozen=True)
class Provenance:
    """Where one input came from and on what terms it may be used."""

    publisher: str
    licence: str
    attribution: str
    date: str = ""
    agreement: str = ""
    url: str = ""


@dataclass(frozen=True)
class AreasSpec:
    """The small-area boundary file (GeoJSON, GeoPackage or zipped Shapefile)."""

    path: Path
    id: str
    name: str
    provenance: Provenance
    groups: tuple[tuple[str, str], ...] = ()
    layer: str | None = None
    crs: str | None = None
    repair_geometry: bool = False

    @property
    def group_columns(self) -> dict[str, str]:
        """Map each group label (for example ``borough``) to its source column."""
        return dict(self.groups)


@dataclass(frozen=True)
class IncidentFilter:
    """Keep only incidents whose *column* takes one of *values*."""

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class IncidentsSpec:
    """The incident file: CSV with coordinates, or a point GeoJSON/GeoPackage."""

    path: Path
    date: str
    provenance: Provenance
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    layer: str | None = None
    date_format: str | None = None
    #: More layouts, tried in order on the dates ``date_format`` cannot read.
    other_date_formats: tuple[str, ...] = ()
    type: str | None = None
    filters: tuple[IncidentFilter, ...] = ()
    drop_columns: tuple[str, ...] = ()
    # How a CSV file is laid out (geo.readers.CsvLayout): separator, text encoding and the
    # number of lines above the header.
    delimiter: str = ","
    encoding: str = "utf-8"
    skip_rows: int = 0
    #: Incident-number column: rows repeating a number are one incident, counted once.
    id: str | None = None
    duplicates: str = "check"
    #: The build stops when one drop reason (other than the study period and the filters)
    #: takes more than this share of the rows, in percent.
    max_dropped_percent: float = 5.0


@dataclass(frozen=True)
class CovariateSpec:
    """A table of area statistics joined to the areas by *key*."""

    name: str
    path: Path
    key: str
    provenance: Provenance
    drop_columns: tuple[str, ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8"
    skip_rows: int = 0


@dataclass(frozen=True)
class FeatureSpec:
    """A model covariate: one column, or a share ``sum(numerator) / denominator``."""

    name: str
    label: str
    column: str | None = None
    numerator: tuple[str, ...] = ()
    denominator: str | None = None
    unit: str = "number"  # "percent" (a share from 0 to 1, shown as %), "score" or "number"
    #: The column's values are divided by this (``scale = 100`` reads 0-100 percentages).
    scale: float = 1.0
    #: The plausible (lowest, highest) value after scaling; None: judged from the data.
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class ExposureSpec:
    """The exposure (offset) column, found in one of the covariate tables."""

    column: str
    label: str = "households"
    #: The plausible (lowest, highest) count per area; None: judged from the data.
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class StudySpec:
    """The study period; incidents outside it are dropped and reported."""

    start: date | None = None
    end: date | None = None
    history_years: int = 5
    #: Years used as full years although months in them look missing or far below usual.
    accept_incomplete: tuple[int, ...] = ()


@dataclass(frozen=True)
class EvaluationSpec:
    """The rolling-origin backtest: origin years ``first``..``last`` (full years only)."""

    first: int | None = None
    last: int | None = None
    window_years: int = 5
    bootstrap: int = 500
    seed: int = 20240601


@dataclass(frozen=True)
class ModelSpec:
    """Model options: the count family, the history term and the simulation seed."""

    family: str = "auto"
    history: bool = True
    spatial_lag: bool = False
    simulations: int = 2000
    seed: int = 12345


@dataclass(frozen=True)
class BandsSpec:
    """How expected risk is cut into priority bands."""

    scheme: str = "quantiles"
    k: int = 5
    labels: tuple[str, ...] = DEFAULT_BAND_LABELS
    title: str = "Priority for a home fire safety visit"


@dataclass(frozen=True)
class DisclosureSpec:
    """Small-number suppression: counts 1..threshold-1 are never shown."""

    threshold: int = 5
    mode: str = "internal"


@dataclass(frozen=True)
class StationsSpec:
    """Optional area-to-station lookup, so the atlas can run by station ground."""

    path: Path
    key: str
    station: str
    provenance: Provenance
    delimiter: str = ","
    encoding: str = "utf-8"
    skip_rows: int = 0


@dataclass(frozen=True)
class Profile:
    """A whole dataset profile, as loaded from TOML."""

    name: str
    service: str
    source: Path
    areas: AreasSpec
    incidents: IncidentsSpec
    covariates: tuple[CovariateSpec, ...]
    exposure: ExposureSpec
    features: tuple[FeatureSpec, ...]
    study: StudySpec = field(default_factory=StudySpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    bands: BandsSpec = field(default_factory=BandsSpec)
    disclosure: DisclosureSpec = field(default_factory=DisclosureSpec)
    stations: StationsSpec | None = None
    working_crs: str | None = None
    contact: str = ""

    def input_files(self) -> dict[str, Path]:
        """Every input file by its role, for checksums and the provenance register."""
        files = {"areas": self.areas.path, "incidents": self.incidents.path}
        for cov in self.covariates:
            files[f"covariates:{cov.name}"] = cov.path
        if self.stations is not None:
            files["stations"] = self.stations.path
        return files

    def provenance(self) -> dict[str, Provenance]:
        """Provenance of every input, keyed like :meth:`input_files`."""
        prov = {"areas": self.areas.provenance, "incidents": self.incidents.provenance}
        for cov in self.covariates:
            prov[f"covariates:{cov.name}"] = cov.provenance
        if self.stations is not None:
            prov["stations"] = self.stations.provenance
        return prov
