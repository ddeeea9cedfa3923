"""Where the tool keeps what it makes, and where the London sample ships.

Nothing is ever written into the installed package (site-packages) or the current folder.
The dashboard's caches (Leaflet copied from its package, the map files, the built sample
results) go to one cache folder:

* ``$FIRERISK_CACHE_DIR`` if set (``firerisk app --cache-dir D`` sets it for its server),
* else the per-user cache folder of the platform (``platformdirs``; on Linux
  ``~/.cache/firerisk``).

The London sample (``sample_data/`` of the repository) ships inside the package as data, so an
installed tool can build it and ``firerisk sample --out DIR`` can copy it out.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "SAMPLE_FILES",
    "cache_dir",
    "sample_dir",
    "sample_profile",
    "sample_results",
]

#: Environment variable naming the cache folder.
CACHE_ENV = "FIRERISK_CACHE_DIR"
#: The files of the London sample, as shipped (``london.toml`` names the others).
SAMPLE_FILES = ("london.toml", "london_lsoa21.geojson", "lfb_dwelling_fires_2009_2024.csv.gz",
                "imd2025_london.csv", "census2021_households_london.csv", "README.md")


def cache_dir() -> Path:
    """The cache folder (``$FIRERISK_CACHE_DIR``, else the per-user cache folder); not
    created here."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("firerisk", appauthor=False)).resolve()


def sample_dir() -> Path:
    """The folder of the London sample inside the installed package (read only)."""
    return Path(str(importlib.resources.files("firerisk") / "sample_data"))


def sample_profile() -> Path:
    """The London sample's dataset profile."""
    return sample_dir() / "london.toml"


def sample_results(*, public: bool = False, cache: Path | None = None) -> Path:
    """Where the dashboard builds the London sample's results: ``<cache>/results/london.gpkg``
    (``london-public.gpkg`` for the public version)."""
    name = "london-public.gpkg" if public else "london.gpkg"
    return (cache or cache_dir()) / "results" / name
