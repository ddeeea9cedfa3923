"""Rebuild ``sample_data/`` (London, LSOA 2021) from the shared public data folder.

Usage::

    python scripts/build_sample_data.py [--shared ../shared/data] [--out sample_data]

The output is deterministic: the same inputs give byte-identical files.
Only subsetting and column selection happen here; no value is changed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import pandas as pd

LONDON_FRA = "E31000046"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(shared: Path, out: Path) -> dict[str, str]:
    """Write the London sample files into *out* and return their checksums."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    # 1. LSOA 2021 boundaries for the London Fire Brigade area (4,994 areas), copied unchanged.
    src = shared / "lsoa_boundaries" / "lsoa21_london.geojson"
    dst = out / "london_lsoa21.geojson"
    shutil.copyfile(src, dst)
    written.append(dst)

    lookup = pd.read_csv(shared / "lsoa_boundaries" / "lookup_lsoa21_ltla24_fra24.csv.gz")
    codes = set(lookup.loc[lookup["fra24_code"] == LONDON_FRA, "lsoa21_code"])
    if len(codes) != 4994:
        raise SystemExit(f"expected 4,994 London LSOAs in the lookup, found {len(codes):,}")

    # 2. LFB dwelling fires, 2009-01-01 to 2024-08-31, all 90,146 rows, copied unchanged.
    src = shared / "lfb_dwelling_fires" / "lfb_dwelling_fires_2009_2024.csv.gz"
    dst = out / "lfb_dwelling_fires_2009_2024.csv.gz"
    shutil.copyfile(src, dst)
    written.append(dst)

    # 3. IMD 2025 (LSOA 2021): scores, ranks and deciles for the IMD and its seven domains.
    imd = pd.read_csv(shared / "imd" / "imd2025_lsoa21_england.csv.gz", dtype={"lsoa21_code": str})
    imd = imd[imd["lsoa21_code"].isin(codes)].sort_values("lsoa21_code")
    dst = out / "imd2025_london.csv"
    imd.to_csv(dst, index=False, lineterminator="\n")
    written.append(dst)

    # 4. Census 2021 households: total, tenure (TS054) and accommodation type (TS044).
    census = pd.read_csv(
        shared / "census_population" / "census2021_households_lsoa21_ew.csv.gz",
        dtype={"lsoa21_code": str},
    )
    keep = ["lsoa21_code", "total_households"] + [
        c for c in census.columns if c.startswith(("tenure: ", "accommodation: "))
    ]
    census = census.loc[census["lsoa21_code"].isin(codes), keep].sort_values("lsoa21_code")
    dst = out / "census2021_households_london.csv"
    census.to_csv(dst, index=False, lineterminator="\n")
    written.append(dst)

    return {p.name: _sha256(p) for p in written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent.parent
    parser.add_argument("--shared", type=Path, default=here.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=here / "sample_data")
    args = parser.parse_args()
    for name, digest in build(args.shared, args.out).items():
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
