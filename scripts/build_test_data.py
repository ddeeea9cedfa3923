"""Rebuild ``tests/data/merseyside/`` (Merseyside, LSOA 2021) from the shared public data folder.

Usage::

    python scripts/build_test_data.py [--shared ../shared/data] [--out tests/data/merseyside]

With the London sample (``sample_data/``) these files give the tests a real, multi-authority
geography: two fire and rescue authorities and 38 local authorities, read by
``tests/test_synth.py`` instead of the national files (the tests never read ``../shared``).
Only subsetting and column selection happen here; no value is changed. The output is
deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import pandas as pd

MERSEYSIDE_FRA = "E31000041"
AREAS = 923


def build(shared: Path, out: Path) -> dict[str, str]:
    """Write the Merseyside files into *out* and return their SHA-256 checksums."""
    out.mkdir(parents=True, exist_ok=True)
    # 1. LSOA 2021 boundaries of the Merseyside FRA, copied unchanged.
    shutil.copyfile(shared / "lsoa_boundaries" / "lsoa21_merseyside.geojson",
                    out / "merseyside_lsoa21.geojson")
    lookup = pd.read_csv(shared / "lsoa_boundaries" / "lookup_lsoa21_ltla24_fra24.csv.gz")
    codes = set(lookup.loc[lookup["fra24_code"] == MERSEYSIDE_FRA, "lsoa21_code"])
    if len(codes) != AREAS:
        raise SystemExit(f"expected {AREAS} Merseyside LSOAs in the lookup, found {len(codes)}")
    # 2. IMD 2025, every column, the Merseyside rows.
    imd = pd.read_csv(shared / "imd" / "imd2025_lsoa21_england.csv.gz",
                      dtype={"lsoa21_code": str})
    imd = imd[imd["lsoa21_code"].isin(codes)].sort_values("lsoa21_code")
    imd.to_csv(out / "imd2025_merseyside.csv", index=False, lineterminator="\n")
    # 3. Census 2021 households: total, tenure (TS054) and accommodation type (TS044).
    census = pd.read_csv(shared / "census_population" / "census2021_households_lsoa21_ew.csv.gz",
                         dtype={"lsoa21_code": str})
    keep = ["lsoa21_code", "total_households"] + [
        c for c in census.columns if c.startswith(("tenure: ", "accommodation: "))]
    census = census.loc[census["lsoa21_code"].isin(codes), keep].sort_values("lsoa21_code")
    census.to_csv(out / "census2021_households_merseyside.csv", index=False, lineterminator="\n")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())
            if p.suffix in (".geojson", ".csv")}


def main() -> None:
    here = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", type=Path, default=here.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=here / "tests" / "data" / "merseyside")
    args = p.parse_args()
    for name, digest in build(args.shared, args.out).items():
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
