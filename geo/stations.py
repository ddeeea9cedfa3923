"""The optional area-to-station lookup, so filters and atlases can run by station ground.

A service's station grounds rarely follow borough lines, so the profile's ``[stations]``
table names a CSV with one row per area: the area code and the station that covers it.
"""

from __future__ import annotations

import pandas as pd

from firerisk.errors import InputFileError, Problem
from firerisk.geo.readers import layout_of, layout_problem, list_columns, read_csv_text
from firerisk.geo.validate import ColumnNeed, missing_columns
from firerisk.specs import StationsSpec

__all__ = ["STATION_LABEL", "read_station_lookup"]

STATION_LABEL = "station"


def read_station_lookup(spec: StationsSpec, area_ids: pd.Index) -> pd.Series:
    """Read the lookup and return the station of every area, indexed like *area_ids*.

    Raises
    ------
    InputFileError
        Listing, at once: missing columns, areas without a station, areas given two
        stations, and codes that match no area.
    """
    file = str(spec.path)
    layout = layout_of(spec, "[stations]")
    header = list_columns(spec.path, layout=layout)
    problems = missing_columns(file, header, [
        ColumnNeed(spec.key, "the area code", "key", "[stations]"),
        ColumnNeed(spec.station, "the station name", "station", "[stations]"),
    ])
    if problems:
        hint = layout_problem(spec.path, layout, wanted=[spec.key, spec.station])
        raise InputFileError([hint] if hint is not None else problems)
    table = read_csv_text(spec.path, columns=[spec.key, spec.station], layout=layout)
    key = table[spec.key].str.strip()
    station = table[spec.station].str.strip()
    rows = pd.Series(range(1, len(table) + 1), index=table.index)

    blank = station.isna() | (station == "")
    if blank.any():
        problems.append(Problem(file, "these rows name no station.",
                                "fill in the station, or remove the rows.", column=spec.station,
                                rows=tuple(rows[blank])))
    dup = key.duplicated(keep=False) & key.notna()
    if dup.any():
        clash = table[dup].groupby(key[dup])[spec.station].nunique()
        if (clash > 1).any():
            problems.append(Problem(
                file, f"{int((clash > 1).sum())} area(s) are given more than one station "
                f"(e.g. {', '.join(clash[clash > 1].index[:3])}).",
                "give each area exactly one station (the one that covers most of its homes).",
                column=spec.key, rows=tuple(rows[dup])))
    unknown = ~key.isin(area_ids)
    if unknown.any():
        problems.append(Problem(
            file, f"{int(unknown.sum())} code(s) match no area in the area file "
            f"(e.g. {', '.join(map(str, key[unknown].head(3)))}).",
            "check that the lookup uses the same area codes (and census year) as [areas].",
            column=spec.key, rows=tuple(rows[unknown])))
    lookup = pd.Series(station.to_numpy(), index=key.to_numpy()).groupby(level=0).first()
    missing = area_ids[~area_ids.isin(lookup.index)]
    if len(missing):
        problems.append(Problem(
            file, f"{len(missing):,} area(s) have no station (e.g. {', '.join(missing[:3])}).",
            "add a row for every area in the area file.", column=spec.key))
    if problems:
        raise InputFileError(problems)
    return lookup.reindex(area_ids).rename(STATION_LABEL)
