"""The names of the results' per-area columns, written once.

Every module that reads or writes the ``areas`` and ``targets`` layers (docs/DESIGN.md,
"Results GeoPackage") uses these names instead of spelling the strings out.
"""

from __future__ import annotations

__all__ = [
    "AREA_ID",
    "AREA_NAME",
    "BAND",
    "BAND_CHANCE",
    "BAND_INDEX",
    "BAND_INDEX_HIGH",
    "BAND_INDEX_LOW",
    "EXPECTED",
    "GROUP_P_TOP",
    "GROUP_RANK",
    "GROUP_RANK_HIGH",
    "GROUP_RANK_LOW",
    "HOUSEHOLDS",
    "IMD_DECILE",
    "MODEL_NOTE",
    "OBS_PREFIX",
    "OBS_RECENT",
    "PI_HIGH",
    "PI_LOW",
    "P_TOP10",
    "RANK",
    "RANK_HIGH",
    "RANK_LOW",
    "RANK_RANGE_COLUMNS",
    "RATE_COLUMNS",
    "REASONS",
    "RISK_PER_1000",
    "UNCERTAIN_BAND",
    "group_rank_columns",
    "uncertainty_columns",
]

AREA_ID = "area_id"
AREA_NAME = "area_name"
HOUSEHOLDS = "households"
#: Expected fires in the forecast year.
EXPECTED = "expected"
#: Expected fires per 1,000 households: the figure the list is ranked by.
RISK_PER_1000 = "risk_per_1000"
RANK = "rank"
BAND = "band"
BAND_INDEX = "band_index"
PI_LOW = "pi_low"
PI_HIGH = "pi_high"
P_TOP10 = "p_top10"
UNCERTAIN_BAND = "uncertain_band"
#: The 90% range of the area's rank in the whole service (1 = first), from the simulated
#: draws of every area's risk; published rounded outward (``risk.uncertainty.coarse_range``).
RANK_LOW = "rank_low"
RANK_HIGH = "rank_high"
#: The 90% range of bands that range of ranks falls in (band indices, 1 = lowest band).
BAND_INDEX_LOW = "band_index_low"
BAND_INDEX_HIGH = "band_index_high"
#: The chance the area's rank falls among the ranks of its own band (0..1).
BAND_CHANCE = "band_chance"
#: Per grouping column ``<label>`` (e.g. ``borough``): the area's place among its group's
#: areas, its 90% range, and the chance it is in the group's top 10% of households.
GROUP_RANK = "rank_in_{label}"
GROUP_RANK_LOW = "rank_in_{label}_low"
GROUP_RANK_HIGH = "rank_in_{label}_high"
GROUP_P_TOP = "p_top10_in_{label}"
#: Prefix of the protected yearly counts, ``obs_2019`` and so on.
OBS_PREFIX = "obs_"
#: The protected total of the last ``history_years`` full years.
OBS_RECENT = "obs_recent"
REASONS = ("reason_1", "reason_2", "reason_3")
MODEL_NOTE = "model_note"
IMD_DECILE = "imd_decile"
#: Model estimates and rates computed from the counts (dropped in public mode).
RATE_COLUMNS = (EXPECTED, RISK_PER_1000, PI_LOW, PI_HIGH, P_TOP10)
#: The service-wide rank and band ranges and band chance (model outputs from the counts:
#: published coarsened, dropped in public mode).
RANK_RANGE_COLUMNS = (RANK_LOW, RANK_HIGH, BAND_INDEX_LOW, BAND_INDEX_HIGH, BAND_CHANCE)


def group_rank_columns(label: str) -> tuple[str, str, str, str]:
    """The columns of one grouping column: rank, its range (low, high), top-10% chance."""
    return (GROUP_RANK.format(label=label), GROUP_RANK_LOW.format(label=label),
            GROUP_RANK_HIGH.format(label=label), GROUP_P_TOP.format(label=label))


def uncertainty_columns(labels: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Every rank-range and chance column a build writes for these grouping labels, except
    the in-group ranks themselves (``rank_in_<label>``, which follow from the published
    rank): the model outputs to coarsen, and to drop in public mode."""
    out: list[str] = [*RANK_RANGE_COLUMNS]
    for label in labels:
        _, low, high, p_top = group_rank_columns(label)
        out += [low, high, p_top]
    return tuple(out)
