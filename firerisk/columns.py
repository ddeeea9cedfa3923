"""The names of the results' per-area columns, written once.

Every module that reads or writes the ``areas`` and ``targets`` layers (docs/DESIGN.md,
"Results GeoPackage") uses these names instead of spelling the strings out.
"""

from __future__ import annotations

__all__ = [
    "AREA_ID",
    "AREA_NAME",
    "BAND",
    "BAND_INDEX",
    "EXPECTED",
    "HOUSEHOLDS",
    "IMD_DECILE",
    "MODEL_NOTE",
    "OBS_PREFIX",
    "OBS_RECENT",
    "PI_HIGH",
    "PI_LOW",
    "P_TOP10",
    "RANK",
    "RATE_COLUMNS",
    "REASONS",
    "RISK_PER_1000",
    "UNCERTAIN_BAND",
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
#: Prefix of the protected yearly counts, ``obs_2019`` and so on.
OBS_PREFIX = "obs_"
#: The protected total of the last ``history_years`` full years.
OBS_RECENT = "obs_recent"
REASONS = ("reason_1", "reason_2", "reason_3")
MODEL_NOTE = "model_note"
IMD_DECILE = "imd_decile"
#: Model estimates and rates computed from the counts (dropped in public mode).
RATE_COLUMNS = (EXPECTED, RISK_PER_1000, PI_LOW, PI_HIGH, P_TOP10)
