"""The tool as a service's IT team installs it: build the sdist and the wheel (the wheel from
the sdist), install the wheel into a fresh virtual environment outside the repository, beside a
PyPI-style top-level ``geo`` / ``risk`` / ``report`` / ``ui`` whose import fails, start
``firerisk app`` on loopback from an empty folder with an empty home, and check in Chromium
that the map is drawn and that nothing was written outside the cache folder it was given.

Independent truth: the archives' own listings (zipfile, tarfile), the fresh environment's own
file list before and after, and the fill colours computed from the results file the app built.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from firerisk.geo.results import read_results
from firerisk.ui.bands import published_banding
from firerisk.ui.mapview import layer_style
from tests.browser_helpers import app_in_browser, wait_for_polygons

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BARE = ("geo", "risk", "report", "ui")
#: Installed as real files (never links) under firerisk/: one module of each source folder,
#: the map's script, a page and the London sample.
MUST_SHIP = ("firerisk/geo/results.py", "firerisk/risk/bands.py", "firerisk/report/mapsheet.py",
             "firerisk/ui/app.py", "firerisk/ui/page_map.py", "firerisk/ui/js/areamap.js",
             "firerisk/serve.py", "firerisk/paths.py", "firerisk/sample_data/london.toml",
             "firerisk/sample_data/london_lsoa21.geojson")


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel built from it, by pypa/build (as a release would)."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], timeout=600)
    (sdist,) = out.glob("firerisk-*.tar.gz")
    (wheel,) = out.glob("firerisk-*.whl")
    return sdist, wheel


def test_the_wheel_holds_one_top_level_name_and_real_files(dist: tuple[Path, Path]) -> None:
    _, wheel = dist
    with zipfile.ZipFile(wheel) as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    tops = {n.split("/")[0] for n in names}
    assert tops == {"firerisk", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    links = [i.filename for i in infos if stat.S_ISLNK(i.external_attr >> 16)]
    assert links == []
    for name in MUST_SHIP:
        assert name in names, name
    # every module of the source folders is in, under firerisk/
    for folder in BARE:
        for path in (ROOT / folder).rglob("*.py"):
            assert f"firerisk/{path.relative_to(ROOT).as_posix()}" in names, path
    assert not [n for n in names if n.startswith(("firerisk/sample_data/results",
                                                  "tests/", "bench/"))]


def test_the_sdist_holds_the_linked_folders_as_files(dist: tuple[Path, Path]) -> None:
    sdist, _ = dist
    with tarfile.open(sdist) as tar:
        members = tar.getmembers()
    root = members[0].name.split("/")[0]
    files = {m.name.removeprefix(root + "/"): m for m in members}
    assert not [m.name for m in members if m.issym() or m.islnk()]
    for name in MUST_SHIP:
        assert files[name].isfile(), name
    assert not [n for n in files if n.split("/")[0] in BARE]


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _installer() -> list[str]:
    """uv (fast, as ``make install`` uses) when this environment has it, else pip."""
    uv = Path(sys.executable).with_name("uv")
    return [str(uv), "pip", "install", "--compile-bytecode", "--python"] if uv.exists() \
        else [sys.executable, "-m", "pip", "install", "--quiet", "--python"]


def _stand_in(folder: Path) -> Path:
    """A distribution with the top-level names PyPI's ``geo``, ``risk`` and ``report`` (and
    a common ``ui``) use, each failing on import: the tool must never import them."""
    for name in BARE:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(
            f"raise ImportError('stand-in for a PyPI top-level {name!r}: "
            f"firerisk must import firerisk.{name}, never {name}')\n")
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = '
        '"setuptools.build_meta"\n[project]\nname = "geo-stand-in"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["geo", "risk", "report", "ui"]\n')
    return folder


def test_installed_app_draws_the_map_and_writes_only_its_cache(
        dist: tuple[Path, Path], tmp_path: Path) -> None:
    _, wheel = dist
    outside = tmp_path / "outside"  # tmp_path is outside the repository
    assert not outside.resolve().is_relative_to(ROOT)
    venv = outside / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    py = venv / "bin" / "python"
    installer = _installer()
    _run([*installer, str(py), str(wheel)], timeout=900)
    _run([*installer, str(py), str(_stand_in(outside / "stand-in"))], timeout=600)

    home, cwd, tmp, cache = (outside / n for n in ("home", "cwd", "tmp", "cache"))
    for folder in (home, cwd, tmp):
        folder.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp),
           "LANG": "C.UTF-8"}
    # The stand-in is really there and really fails; the installed tool imports its own.
    # (Probed with a home of its own: importing matplotlib and libpysal makes folders there.)
    probe_env = {**env, "HOME": str(outside / "probe-home")}
    probe = subprocess.run([str(py), "-c", "import geo"], capture_output=True, text=True,
                           env=probe_env, cwd=outside, check=False)
    assert probe.returncode == 1, probe.stderr
    assert "stand-in" in probe.stderr, probe.stderr
    code = "import firerisk.geo.results as m, firerisk.ui.app; print(m.__file__)"
    where = _run([str(py), "-c", code], env=probe_env, cwd=outside).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where

    env_before = _tree(venv)
    with app_in_browser(None, outside / "run", cache_dir=cache,
                        command=venv / "bin" / "firerisk", cwd=cwd, base_env=env,
                        timeout=120) as session:
        page = session.page
        page.goto(session.base)
        # First start: the app builds the London sample (package data) into the cache.
        built = cache / "results" / "london.gpkg"
        wait_for_polygons(page, 4994, timeout=600)
        results = read_results(built)
        style = layer_style(results, "band",
                            banding=published_banding(results.areas, results.band_breaks))
        fills = {style.colour_of(int(c)) for c in style.classes}
        frame_fills = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first \
            .locator("path.leaflet-interactive").evaluate_all(
                "els => els.map(e => e.getAttribute('fill'))")
        assert set(frame_fills) == fills
        assert session.guard.blocked == [], session.guard.blocked
        assert session.errors == [], session.errors

    # Nothing written outside the cache folder: not in the environment (site-packages),
    # the working folder, the home folder or the temporary folder.
    assert _tree(venv) == env_before, sorted(_tree(venv) ^ env_before)[:20]
    assert _tree(cwd) == set()
    assert _tree(home) == set()
    assert _tree(tmp) == set()
    written = _tree(cache)
    assert {"app.py", "static/vendor/leaflet/leaflet.js", "results/london.gpkg"} <= written
    assert any(n.startswith("static/cache/areamap-") for n in written)
    print(f"\ninstalled app: {len(written)} files in the cache folder, "
          f"{sum((cache / n).stat().st_size for n in written if (cache / n).is_file()):,} "
          "bytes; nothing elsewhere")

    # --public refuses the internal results just built, naming the file and the fix (exit 2).
    refused = subprocess.run([str(venv / "bin" / "firerisk"), "app", "--public", "--results",
                              str(built)], capture_output=True, text=True, env=env, cwd=cwd,
                             check=False)
    assert refused.returncode == 2, refused.stderr
    assert str(built) in refused.stderr, refused.stderr
    assert "--mode public" in refused.stderr, refused.stderr
