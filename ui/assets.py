"""JavaScript and CSS the map needs, served by the app itself (no CDN, works offline).

Leaflet 1.9.4 ships inside the PyPI package ``django-js-lib-leaflet``. At start the app copies
``leaflet.js``, ``leaflet.css`` and the images into ``<static>/vendor/leaflet/``, where
``<static>`` is the folder Streamlit serves at ``/app/static/`` when
``server.enableStaticServing`` is on: ``static/`` beside the app's main script
(:func:`static_dir`). For ``firerisk app`` that is ``<cache>/static`` (the main script is
written into the cache folder, see ``firerisk/serve.py``); for ``streamlit run app.py`` in a
checkout it is the checkout's ``static/`` (gitignored). Never the installed package.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import tempfile
from pathlib import Path

from firerisk import paths

__all__ = [
    "LEAFLET_CSS",
    "LEAFLET_FILES",
    "LEAFLET_JS",
    "install_vendor_assets",
    "leaflet_source_dir",
    "serve_static_from",
    "static_dir",
    "static_url",
]

_served: list[Path] = []


def serve_static_from(folder: Path) -> None:
    """Record the folder the running server serves at ``/app/static/`` (the app's main
    calls this with ``static/`` beside its main script; one per process)."""
    _served[:] = [Path(folder)]


def static_dir() -> Path:
    """The folder served at ``/app/static/``: the one recorded by :func:`serve_static_from`,
    else ``static/`` in the cache folder (:func:`firerisk.paths.cache_dir`)."""
    return _served[0] if _served else paths.cache_dir() / "static"


_served_folder = static_dir  # (install_vendor_assets's keyword shadows the name)


#: Files copied from the Leaflet package, relative to its static folder.
LEAFLET_FILES = (
    "leaflet.js",
    "leaflet.css",
    "images/layers.png",
    "images/layers-2x.png",
    "images/marker-icon.png",
    "images/marker-icon-2x.png",
    "images/marker-shadow.png",
)
#: Paths below ``static/`` of the served copies.
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"


def leaflet_source_dir() -> Path:
    """Folder holding leaflet.js and leaflet.css inside the installed Leaflet package."""
    root = importlib.resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    return Path(str(root))


def _same(a: Path, b: Path) -> bool:
    return b.exists() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def install_vendor_assets(*, static_dir: Path | None = None) -> list[Path]:
    """Copy Leaflet's files into ``<static_dir>/vendor/leaflet`` unless already identical
    (*static_dir* defaults to the served folder, :func:`static_dir`).

    Each file is written beside its target and renamed into place, so a browser never reads a
    half-written file even when two app processes start together.

    Returns
    -------
    list of Path
        The served copies.
    """
    source = leaflet_source_dir()
    target = (static_dir if static_dir is not None else _served_folder()) / "vendor" / "leaflet"
    out = []
    for name in LEAFLET_FILES:
        src, dst = source / name, target / name
        if not src.is_file():
            raise FileNotFoundError(
                f"{src} is missing: reinstall the 'django-js-lib-leaflet' package "
                "(it provides Leaflet 1.9.4 for the offline map).")
        if not _same(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-", suffix=dst.suffix)
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        out.append(dst)
    return out


def static_url(relative: str, *, base_url_path: str = "") -> str:
    """URL path at which Streamlit serves ``static/<relative>``.

    Parameters
    ----------
    relative : str
        Path below ``static/``.
    base_url_path : str
        Streamlit's ``server.baseUrlPath`` (empty when the app is served at the root).
    """
    base = base_url_path.strip("/")
    prefix = f"/{base}" if base else ""
    return f"{prefix}/app/static/{relative.lstrip('/')}"
