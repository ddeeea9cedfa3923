"""Hostile files are refused on the real read path, before GDAL or pandas opens them.

Each file is handed to the real command line (``firerisk check``, and for some ``build``
and ``init``) in a subprocess in which every way of opening a data file with GDAL
(pyogrio), pandas or pyarrow is a tripwire: a call that names the hostile file stops the
process. The command must exit 2 with the reason, the tripwire must not fire, and the
command's peak memory (the subprocess's ``VmHWM``, imports included) must stay under
:data:`PEAK_CEILING_MB` (before this gate existed, a 7.8 MB ``.csv.gz`` that unpacks to
1 GB was read with 4.5 GB peak memory, and a 3 GB GeoJSON in a 3.4 MB zip for 2 minutes).
The files are made here: nothing hostile is committed.
"""

from __future__ import annotations

import gzip
import json
import shutil
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.corpus import write_subset

#: Peak memory of a refusing command, imports included (they peak at about 200 MB on the
#: development machine; the gzip bomb was read with 4.5 GB before the gate).
PEAK_CEILING_MB = 400
MB = 1024 * 1024

_TRIPWIRE = r'''
import contextlib, io, json, os, sys, time
from pathlib import Path

jobs_file, result_file = sys.argv[1:]
jobs = json.loads(Path(jobs_file).read_text())
results = {}
current = {"hostile": None, "name": None}

def _save():
    Path(result_file).write_text(json.dumps(results))

def _peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

def _names_hostile(args, kwargs):
    hostile = current["hostile"]
    for value in [*args, *kwargs.values()]:
        if hostile and isinstance(value, (str, os.PathLike)):
            text = os.fspath(value)
            if hostile in text or os.path.realpath(text) == hostile:
                return True
    return False

def _wire(module, name):
    real = getattr(module, name)
    def wired(*args, **kwargs):
        if _names_hostile(args, kwargs):
            results[current["name"]] = {"opened": f"{module.__name__}.{name}", "exit": 99}
            _save()
            os._exit(99)
        return real(*args, **kwargs)
    setattr(module, name, wired)

import pandas, pyarrow.csv, pyogrio, pyogrio.raw
for name in ("read_dataframe", "read_info", "list_layers", "read_arrow", "open_arrow"):
    if hasattr(pyogrio, name):
        _wire(pyogrio, name)
for name in ("read", "read_arrow", "open_arrow"):
    if hasattr(pyogrio.raw, name):
        _wire(pyogrio.raw, name)
_wire(pandas, "read_csv")
import pandas.io.parsers.readers as readers
_wire(readers, "read_csv")
for name in ("read_csv", "open_csv"):
    _wire(pyarrow.csv, name)
from firerisk.cli import main
import firerisk.pipeline, firerisk.geo.ingest, firerisk.geo.scaffold, firerisk.risk.features

for job in jobs:
    current.update(hostile=os.path.realpath(job["hostile"]), name=job["name"])
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak-memory count
    err = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--quiet", *job["argv"]])
    results[job["name"]] = {"opened": None, "exit": code, "stderr": err.getvalue(),
                            "seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}
    _save()
'''


def _run_all(tmp: Path, jobs: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    """Run every job's command line in one subprocess with the tripwires set.

    The peak memory of each job is the process's high-water mark (``VmHWM``), reset
    before the job by writing 5 to ``/proc/self/clear_refs``: the imports are counted,
    the test process's own memory is not.
    """
    script, jobs_file, result = tmp / "tripwire.py", tmp / "jobs.json", tmp / "results.json"
    script.write_text(_TRIPWIRE, encoding="utf-8")
    jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
    subprocess.run([sys.executable, str(script), str(jobs_file), str(result)], cwd=tmp,
                   capture_output=True, text=True, timeout=600, check=False)
    return json.loads(result.read_text()) if result.exists() else {}


# --------------------------------------------------------------------------- the files

def _zip_with(path: Path, members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            kind = stat.S_IFLNK if name in links else stat.S_IFREG
            info.external_attr = (kind | 0o644) << 16
            zf.writestr(info, data)
    return path


def _ratio_bomb(path: Path) -> Path:
    """A zip holding 300 MB of GeoJSON-like text that packs about 1,000 times smaller."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("areas.geojson", "w", force_zip64=True) as fh:
        fh.write(b'{"type": "FeatureCollection", "features": [')
        chunk = b" " * MB
        for _ in range(300):
            fh.write(chunk)
    return path


def _size_bomb(path: Path) -> Path:
    """An honest zip (no lying header, no shared data) of 45 members of 100 MB each that
    pack about 90 times smaller: 4.5 GB in all, over the 4 GiB limit, under the ratio
    limit. Written by hand, reusing one compressed member, so it takes a second."""
    period, noise = 15_000, 200
    rng = np.random.default_rng(7)
    raw = np.zeros(100 * MB, dtype=np.uint8)
    starts = np.arange(0, raw.size - noise, period)
    raw[(starts[:, None] + np.arange(noise)).ravel()] = rng.integers(
        0, 256, starts.size * noise, dtype=np.uint8)  # fresh noise: no match to repeat
    data = raw.tobytes()
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = packer.compress(data) + packer.flush()
    crc = zlib.crc32(data)
    assert 50 < len(data) / len(packed) < 100, len(data) / len(packed)
    central, offset = [], 0
    with path.open("wb") as fh:
        for i in range(45):
            name = f"part{i:02d}.geojson".encode()
            header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc,
                                 len(packed), len(data), len(name), 0)
            fh.write(header + name + packed)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc,
                                       len(packed), len(data), len(name), 0, 0, 0, 0,
                                       (stat.S_IFREG | 0o644) << 16, offset) + name)
            offset += len(header) + len(name) + len(packed)
        directory = b"".join(central)
        fh.write(directory)
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central),
                             len(directory), offset, 0))
    return path


def _gzip_bomb(path: Path, line: bytes, header: bytes) -> Path:
    """A .csv.gz of 1 GB of one repeated CSV row in about 1 MB: 64 gzip members of 16 MB."""
    block = line * (16 * MB // len(line))
    member = gzip.compress(block, compresslevel=9)
    with path.open("wb") as fh:
        fh.write(gzip.compress(header + block, compresslevel=9))
        for _ in range(63):
            fh.write(member)
    return path


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "clean"
    write_subset(folder)
    return folder


def _case(subset: Path, tmp: Path, name: str) -> tuple[Path, Path]:
    """A copy of the subset whose areas or incidents are the hostile file *name*."""
    folder = tmp / "case"
    shutil.copytree(subset, folder)
    geojson = (folder / "areas.geojson").read_bytes()
    role, target = "areas", folder / "areas.zip"
    if name == "zip_slip":
        _zip_with(target, {"areas.geojson": geojson, "../../evil.txt": b"owned"})
    elif name == "absolute_member":
        _zip_with(target, {"areas.geojson": geojson, "/tmp/evil.txt": b"owned"})
    elif name == "symlink_member":
        _zip_with(target, {"areas.geojson": geojson, "link.geojson": b"/etc/passwd"},
                  links=("link.geojson",))
    elif name == "nested_zip":
        inner = _zip_with(tmp / "inner.zip", {"areas.geojson": geojson}).read_bytes()
        _zip_with(target, {"inner.zip": inner})
    elif name == "zip_bomb_ratio":
        _ratio_bomb(target)
    elif name == "zip_bomb_total_size":
        _size_bomb(target)
    elif name == "gzip_bomb":
        lines = (folder / "incidents.csv").read_bytes().split(b"\n")
        role, target = "incidents", folder / "incidents.csv.gz"
        _gzip_bomb(target, lines[1] + b"\n", lines[0] + b"\n")
    profile = folder / "profile.toml"
    text = profile.read_text(encoding="utf-8")
    old = '"areas.geojson"' if role == "areas" else '"incidents.csv"'
    profile.write_text(text.replace(old, f'"{target.name}"'), encoding="utf-8")
    return profile, target


REASONS = {
    "zip_slip": "climbs out of the folder",
    "absolute_member": "has an absolute path",
    "symlink_member": "is a symbolic link",
    "nested_zip": "is itself an archive",
    "zip_bomb_ratio": "zip bomb",
    "zip_bomb_total_size": "over the limit of 4,294,967,296",
    "gzip_bomb": "gzip bomb",
}


BUILD_AND_INIT = (("zip_slip", "build"), ("gzip_bomb", "build"), ("zip_bomb_ratio", "init"),
                  ("gzip_bomb", "init"))


def _argv(name: str, command: str, profile: Path, hostile: Path, out: Path) -> list[str]:
    folder = profile.parent
    if command == "check":
        return ["check", "--config", str(profile)]
    if command == "build":
        return ["build", "--config", str(profile), "--out", str(out / "o.gpkg"),
                "--no-evaluate"]
    areas = hostile if hostile.suffix == ".zip" else folder / "areas.geojson"
    incidents = hostile if hostile.suffix == ".gz" else folder / "incidents.csv"
    return ["init", "--areas", str(areas), "--incidents", str(incidents), "--covariates",
            str(folder / "census.csv"), "--out", str(out / "p.toml")]


@pytest.fixture(scope="module")
def refusals(subset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every hostile file through check (and some through build and init), in one
    subprocess; last, a harmless zip, which the tripwire must catch being opened."""
    jobs = []
    for name, command in [*((n, "check") for n in sorted(REASONS)), *BUILD_AND_INIT]:
        tmp = tmp_path_factory.mktemp(f"{name}_{command}")
        profile, hostile = _case(subset, tmp, name)
        jobs.append({"name": f"{name}:{command}", "hostile": str(hostile),
                     "argv": _argv(name, command, profile, hostile, tmp), "out": str(tmp)})
    tmp = tmp_path_factory.mktemp("harmless")
    profile, hostile = _case(subset, tmp, "zip_slip")
    _zip_with(hostile, {"areas.geojson": (subset / "areas.geojson").read_bytes()})
    jobs.append({"name": "harmless:check", "hostile": str(hostile),
                 "argv": ["check", "--config", str(profile)], "out": str(tmp)})
    results = _run_all(tmp, jobs)
    for job in jobs:
        results.setdefault(str(job["name"]), {})["out"] = job["out"]
        results[str(job["name"])]["size_mb"] = Path(str(job["hostile"])).stat().st_size / MB
    return results


@pytest.mark.parametrize("command", ["check"])
@pytest.mark.parametrize("name", sorted(REASONS))
def test_hostile_file_is_refused_before_any_reader_opens_it(name: str, command: str,
                                                            refusals: dict[str, dict]) -> None:
    got = refusals[f"{name}:{command}"]
    print(f"{name} ({got['size_mb']:.1f} MB): refused in {got.get('seconds', 0):.2f} s, "
          f"peak {got.get('peak_mb', 0):.0f} MB")
    assert got.get("opened") is None, f"a reader opened the hostile file: {got}"
    assert "exit" in got, "the run stopped early: a reader opened an earlier hostile file"
    assert got["exit"] == 2, got
    stderr = str(got["stderr"])
    assert "The file was refused" in stderr
    assert REASONS[name] in stderr, stderr
    assert "Fix: " in stderr
    assert float(got["peak_mb"]) < PEAK_CEILING_MB, got
    assert not (Path(str(got["out"])) / "evil.txt").exists()


@pytest.mark.parametrize(("name", "command"), BUILD_AND_INIT)
def test_build_and_init_refuse_them_too(name: str, command: str,
                                        refusals: dict[str, dict]) -> None:
    got = refusals[f"{name}:{command}"]
    assert got.get("opened") is None, got
    assert "exit" in got, "the run stopped early: a reader opened an earlier hostile file"
    assert got["exit"] == 2, got
    assert REASONS[name] in str(got["stderr"]), got
    assert float(got["peak_mb"]) < PEAK_CEILING_MB, got
    out = Path(str(got["out"]))
    assert not (out / "o.gpkg").exists()
    assert not (out / "p.toml").exists()


def test_the_tripwire_fires_when_a_reader_opens_the_file(refusals: dict[str, dict]) -> None:
    # The harness itself must be able to fail: a harmless zip is opened by GDAL.
    got = refusals["harmless:check"]
    assert got["exit"] == 99, got
    assert str(got["opened"]).startswith("pyogrio"), got


def test_the_app_refuses_a_hostile_profile_before_gdal_opens_it(
        subset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The app builds missing results from $FIRERISK_PROFILE through the same pipeline.
    import pyogrio
    from streamlit.testing.v1 import AppTest

    profile, hostile = _case(subset, tmp_path, "zip_slip")
    opened: list[str] = []
    for name in ("read_dataframe", "read_info", "list_layers"):
        real = getattr(pyogrio, name)

        def wired(*args: object, _real: object = real, _name: str = name,
                  **kwargs: object) -> object:
            if any(str(hostile) in str(a) for a in [*args, *kwargs.values()]):
                opened.append(_name)
                raise AssertionError(f"pyogrio.{_name} opened {hostile}")
            return _real(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(pyogrio, name, wired)
    results = tmp_path / "results" / "r.gpkg"
    results.parent.mkdir()
    monkeypatch.setenv("FIRERISK_PROFILE", str(profile))
    monkeypatch.setenv("FIRERISK_RESULTS", str(results))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"),
                           default_timeout=120).run()
    shown = " ".join(str(e.value) for e in at.error) + " ".join(str(c.value) for c in at.code)
    assert "could not be built" in shown
    assert "climbs out of the folder" in shown
    assert opened == []
    assert not results.exists()
