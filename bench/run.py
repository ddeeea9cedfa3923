"""The benchmark: one table of figures, each speed figure beside a naive baseline.

Usage::

    python -m bench.run            # full run, about 12-15 minutes on 2 cores
    python -m bench.run --quick    # sanity run with small sizes, under 2 minutes

Every build and evaluation runs in a fresh process (cold: imports and file reads
included), started by a tiny launcher that reports the command's wall time, CPU time and
peak resident memory (``RUSAGE_CHILDREN``). Child processes get a bytecode cache in
``bench/output/pycache`` (this session sets ``PYTHONDONTWRITEBYTECODE``, which would add
seconds of compiling to every start); ``--no-bytecode-cache`` turns that off. Baselines (``bench/baseline.py``: geopandas
``sjoin`` + ``groupby`` + statsmodels) run on the same inputs in the same run; ratios are
*tool / baseline* (below 1 means the tool is faster or smaller). Timings on a shared
2-core machine vary from run to run: compare ratios, not absolute seconds.

Results go to ``bench/output/bench.json`` (``bench-quick.json`` with ``--quick``); data sets
and builds to ``bench/output/full/`` or ``bench/output/quick/``.
Parts that need modules not written yet print "not available".
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import pstats
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from bench import OUTPUT, REPO
from bench.synth import SynthConfig, generate

__all__ = [
    "FULL",
    "QUICK",
    "Bench",
    "Measured",
    "Row",
    "Sizes",
    "browser_timings",
    "loglog_slope",
    "main",
    "map_payload",
    "measure",
    "pdf_timings",
]

LONDON = REPO / "sample_data" / "london.toml"
PY = sys.executable
NA = "not available"
SKIPPED = "skipped: time budget used up"

#: Environment changes for every measured child process (set by :func:`main`).
CHILD_ENV: dict[str, str | None] = {}

_IMPORT_TOOL = """
import importlib, pkgutil
for name in ("geo", "risk", "firerisk", "report"):
    pkg = importlib.import_module(name)
    for mod in pkgutil.walk_packages(pkg.__path__, name + "."):
        importlib.import_module(mod.name)
"""
_IMPORT_BASELINE = "import bench.baseline"


@dataclass(frozen=True)
class Sizes:
    """The sizes one bench run uses (``None`` areas = all of England)."""

    national: int | None
    incident_scale: tuple[int, ...]
    incident_scale_areas: int | None
    area_scale: tuple[int | None, ...]
    area_scale_incidents: int
    england_map: bool
    profile: bool
    pdf_atlas: bool
    evaluate: bool
    budget_s: float
    timeout_s: float


FULL = Sizes(national=1_000_000, incident_scale=(10_000, 100_000, 1_000_000),
             incident_scale_areas=None, area_scale=(1_000, 5_000, None),
             area_scale_incidents=100_000, england_map=True, profile=True, pdf_atlas=True,
             evaluate=True,
             budget_s=15 * 60, timeout_s=300)
QUICK = Sizes(national=None, incident_scale=(10_000, 50_000), incident_scale_areas=2_000,
              area_scale=(500, 2_000), area_scale_incidents=10_000, england_map=False,
              profile=False, pdf_atlas=False, evaluate=False, budget_s=110, timeout_s=90)


@dataclass(frozen=True)
class Measured:
    """One command run in a fresh process."""

    seconds: float
    peak_mb: float
    returncode: int
    log: str
    cpu_seconds: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.returncode == 0


@dataclass
class Row:
    """One line of the table. ``tool``/``baseline`` are numbers in ``unit``, or None."""

    section: str
    figure: str
    tool: float | None
    baseline: float | None = None
    unit: str = "s"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """tool / baseline."""
        if self.tool is None or self.baseline is None or self.baseline == 0:
            return None
        return self.tool / self.baseline


def measure(cmd: Sequence[str], *, log: Path, timeout: float,
            env: dict[str, str | None] | None = None, repeat: int = 1) -> Measured:
    """Run *cmd* in a fresh process; wall time, CPU time and peak RSS (MB).

    stdout and stderr go to *log*. The process is killed after *timeout* seconds. With
    *repeat* > 1 the command runs that many times and the fastest run is kept (the
    machine is shared, so the minimum is the least disturbed figure).
    """
    runs = [_measure_once(cmd, log=log, timeout=timeout, env=env) for _ in range(max(1, repeat))]
    good = [r for r in runs if r.ok]
    return min(good, key=lambda r: r.seconds) if good else runs[-1]


# A tiny launcher measures each command. Measuring from this (large) process directly would
# be wrong: on Linux a forked child starts with the parent's peak RSS, so ``ru_maxrss`` would
# report max(bench process, command). The launcher is small when it forks the command.
_LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - start
r = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": rc, "wall": wall, "maxrss_kb": r.ru_maxrss,
               "cpu": r.ru_utime + r.ru_stime}, fh)
"""


def _measure_once(cmd: Sequence[str], *, log: Path, timeout: float,
                  env: dict[str, str | None] | None) -> Measured:
    log.parent.mkdir(parents=True, exist_ok=True)
    child = {**os.environ}
    for key, value in {**CHILD_ENV, **(env or {})}.items():
        if value is None:
            child.pop(key, None)
        else:
            child[key] = value
    figures = log.with_suffix(".measure.json")
    figures.unlink(missing_ok=True)
    with open(log, "wb") as fh:
        proc = subprocess.Popen([PY, "-I", "-S", "-c", _LAUNCHER, str(figures), *cmd],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=child,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command it started
            proc.wait()
            return Measured(seconds=timeout, peak_mb=0.0, returncode=-9, log=str(log),
                            timed_out=True)
    if not figures.exists():
        return Measured(seconds=0.0, peak_mb=0.0, returncode=proc.returncode or -1,
                        log=str(log))
    got = json.loads(figures.read_text())
    return Measured(seconds=round(got["wall"], 3), peak_mb=round(got["maxrss_kb"] / 1024, 1),
                    returncode=int(got["rc"]), log=str(log), cpu_seconds=round(got["cpu"], 3))


def loglog_slope(sizes: Sequence[float], values: Sequence[float]) -> float | None:
    """Slope of log(value) against log(size): 1 = linear growth, below 1 = sublinear."""
    pts = [(s, v) for s, v in zip(sizes, values, strict=True) if v and v > 0]
    if len(pts) < 2:
        return None
    x = np.log([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def _linear_fit(sizes: Sequence[float], values: Sequence[float]) -> tuple[float, float] | None:
    """Least squares ``value = fixed + per_unit * size``."""
    if len(sizes) < 2:
        return None
    b, a = np.polyfit(np.asarray(sizes, float), np.asarray(values, float), 1)
    return float(a), float(b)


def _optional(module: str) -> ModuleType | None:
    """Import *module* if it exists and imports cleanly; None otherwise."""
    try:
        return importlib.import_module(module)
    except Exception:  # noqa: BLE001  (a module still being written must not stop the bench)
        return None


def _module_from_file(path: Path, name: str) -> ModuleType | None:
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses in the module look themselves up here
    try:
        spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001  (an unfinished hook module must not stop the bench)
        sys.modules.pop(name, None)
        return None
    return module


def pipeline_available() -> bool:
    """Whether ``firerisk.pipeline.build`` and the CLI exist and import cleanly."""
    mod = _optional("firerisk.pipeline")
    cli = _optional("firerisk.cli")
    return mod is not None and hasattr(mod, "build") and cli is not None


@dataclass
class Bench:
    """Collects rows and raw figures while the run goes on."""

    sizes: Sizes
    out: Path
    repeat: int = 1
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def over_budget(self) -> bool:
        """Whether the time budget is used up (later parts are then skipped)."""
        return self.elapsed() > self.sizes.budget_s

    def add(self, row: Row) -> None:
        """Add a row and echo it, so a long run shows progress."""
        self.rows.append(row)
        tool = _fmt(row.tool, row.unit)
        base = _fmt(row.baseline, row.unit)
        print(f"  [{self.elapsed():6.0f}s] {row.section}: {row.figure}: {tool} "
              f"(baseline {base}) {row.note}", file=sys.stderr, flush=True)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MB" and value >= 1024:
        return f"{value / 1024:.2f} GB"
    if unit == "bytes":
        return f"{value / 1e6:.2f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    if unit == "s":
        return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"
    if unit == "slope":
        return f"{value:.2f}"
    return f"{value:,.0f} {unit}"


def _dataset(bench: Bench, incidents: int, areas: int | None) -> Path:
    """Generate (or reuse, within this run) a synthetic set; returns its profile."""
    name = f"{'all' if areas is None else areas}areas_{incidents}"
    out = bench.out / "data" / name
    cache = bench.raw.setdefault("datasets", {})
    if name in cache:
        return Path(cache[name]["profile"])
    res = generate(out, config=SynthConfig(incidents=incidents, areas=areas, seed=1))
    cache[name] = {"profile": str(res.profile), "areas": res.n_areas,
                   "incidents": res.n_incidents, "seconds": res.seconds}
    return res.profile


def _tool_build(bench: Bench, profile: Path, tag: str, *, evaluate: bool) -> Measured:
    out = bench.out / "runs" / tag / "results.gpkg"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [PY, "-m", "firerisk.cli", "build", "--config", str(profile), "--out", str(out)]
    if not evaluate:
        cmd.append("--no-evaluate")
    return measure(cmd, log=out.parent / "tool_build.log", timeout=bench.sizes.timeout_s,
                   repeat=bench.repeat)


def _baseline_build(bench: Bench, profile: Path, tag: str, *, evaluate: bool) -> Measured:
    out = bench.out / "runs" / tag / "baseline.gpkg"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [PY, "-m", "bench.baseline", "build", "--config", str(profile), "--out", str(out)]
    if evaluate:
        cmd.append("--evaluate")
    return measure(cmd, log=out.parent / "baseline_build.log", timeout=bench.sizes.timeout_s,
                   repeat=bench.repeat)


def _build_pair(bench: Bench, section: str, label: str, profile: Path, tag: str, *,
                evaluate: bool, have_tool: bool, target: tuple[float, float] | None = None
                ) -> tuple[Measured | None, Measured]:
    """Tool and baseline builds of one profile: a time row and a memory row."""
    base = _baseline_build(bench, profile, tag, evaluate=evaluate)
    tool = _tool_build(bench, profile, tag, evaluate=evaluate) if have_tool else None
    bench.raw.setdefault("builds", {})[tag] = {
        "tool": asdict(tool) if tool else None, "baseline": asdict(base), "evaluate": evaluate,
        "profile": str(profile)}
    t_ok = tool is not None and tool.ok
    note_t = note_m = ""
    if tool is None:
        note_t = note_m = f"tool {NA}"
    elif tool.timed_out:
        note_t = note_m = f"tool did not finish in {tool.seconds:.0f} s (stopped; see {tool.log})"
    elif not tool.ok:
        note_t = note_m = f"tool FAILED (exit {tool.returncode}, see {tool.log})"
    elif target is not None:
        note_t = f"target < {target[0]:.0f} s: {'met' if tool.seconds < target[0] else 'NOT met'}"
        note_m = (f"target < {target[1] / 1024:.0f} GB: "
                  f"{'met' if tool.peak_mb < target[1] else 'NOT met'}")
    if t_ok and tool is not None:
        cpu = f"cpu {tool.cpu_seconds:.1f} s vs {base.cpu_seconds:.1f} s"
        note_t = f"{cpu}; {note_t}" if note_t else cpu
    if not base.ok:
        note_t += f" baseline FAILED (see {base.log})"
    bench.add(Row(section, f"{label}: wall time", tool.seconds if t_ok and tool else None,
                  base.seconds if base.ok else None, "s", note_t.strip()))
    bench.add(Row(section, f"{label}: peak memory", tool.peak_mb if t_ok and tool else None,
                  base.peak_mb if base.ok else None, "MB", note_m.strip()))
    return (tool if t_ok else None), base


def _evaluate_pair(bench: Bench, section: str, label: str, profile: Path, tag: str, *,
                   have_tool: bool) -> None:
    folder = bench.out / "runs" / tag
    base = measure([PY, "-m", "bench.baseline", "evaluate", "--config", str(profile)],
                   log=folder / "baseline_evaluate.log", timeout=bench.sizes.timeout_s,
                   repeat=bench.repeat)
    tool = None
    if have_tool:
        tool = measure([PY, "-m", "firerisk.cli", "--quiet", "evaluate", "--config",
                        str(profile), "--json"],
                       log=folder / "tool_evaluate.log", timeout=bench.sizes.timeout_s,
                       repeat=bench.repeat)
    bench.raw.setdefault("evaluations", {})[tag] = {
        "tool": asdict(tool) if tool else None, "baseline": asdict(base)}
    note = f"tool {NA}" if tool is None else (
        f"cpu {tool.cpu_seconds:.1f} s vs {base.cpu_seconds:.1f} s" if tool.ok
        else f"tool FAILED (exit {tool.returncode}, see {tool.log})")
    bench.add(Row(section, f"{label}: evaluate wall time",
                  tool.seconds if tool and tool.ok else None,
                  base.seconds if base.ok else None, "s", note))


# --------------------------------------------------------------------------- sections

def section_startup(bench: Bench) -> None:
    """Warm the bytecode cache, then time a fresh process importing each side's modules."""
    folder = bench.out / "runs" / "startup"
    warm = measure([PY, "-c", _IMPORT_TOOL + "\n" + _IMPORT_BASELINE], log=folder / "warm.log",
                   timeout=300)
    bench.raw["startup_warmup"] = asdict(warm)
    tool = measure([PY, "-c", _IMPORT_TOOL], log=folder / "tool.log", timeout=120, repeat=3)
    base = measure([PY, "-c", _IMPORT_BASELINE], log=folder / "baseline.log", timeout=120,
                   repeat=3)
    cache = ("bytecode cache on" if "PYTHONPYCACHEPREFIX" in CHILD_ENV
             else "no bytecode cache (PYTHONDONTWRITEBYTECODE as in this session)")
    bench.add(Row("Startup (fresh process, best of 3)", "import every module of geo, risk, "
                  "firerisk, report vs the baseline's imports",
                  tool.seconds if tool.ok else None, base.seconds if base.ok else None, "s",
                  f"{cache}; warm-up import {warm.seconds:.1f} s"))


def section_synthetic(bench: Bench) -> None:
    """Time the generator itself (no baseline: it is bench infrastructure)."""
    n = bench.sizes.national
    if n is None:
        n = max(bench.sizes.incident_scale)
        areas = bench.sizes.incident_scale_areas
    else:
        areas = None
    start = time.perf_counter()
    _dataset(bench, n, areas)
    seconds = time.perf_counter() - start
    info = next(iter(bench.raw["datasets"].values()))
    bench.add(Row("Synthetic data", f"generate {info['incidents']:,} incidents in "
                  f"{info['areas']:,} areas (in process, inputs read cold)", seconds, None, "s",
                  "write areas, incidents, covariates, profile, truth"))


def section_london(bench: Bench, have_tool: bool) -> Path | None:
    """The London sample: build (cold) and evaluate."""
    tool, _ = _build_pair(bench, "London sample (4,994 areas, 90,146 incidents)",
                          "firerisk build", LONDON, "london", evaluate=True, have_tool=have_tool)
    if bench.sizes.evaluate:
        _evaluate_pair(bench, "London sample (4,994 areas, 90,146 incidents)", "firerisk",
                       LONDON, "london", have_tool=have_tool)
    return bench.out / "runs" / "london" / "results.gpkg" if tool else None


def section_national(bench: Bench, have_tool: bool) -> Path | None:
    """The synthetic national set: build and evaluate, against the targets."""
    n = bench.sizes.national
    if n is None:
        return None
    profile = _dataset(bench, n, None)
    sec = f"National synthetic (33,755 areas, {n:,} incidents)"
    tool, _ = _build_pair(bench, sec, "firerisk build", profile, f"all_{n}", evaluate=True,
                          have_tool=have_tool, target=(90.0, 4096.0))
    _evaluate_pair(bench, sec, "firerisk", profile, f"all_{n}", have_tool=have_tool)
    return bench.out / "runs" / f"all_{n}" / "results.gpkg" if tool else None


def _curve(bench: Bench, section: str, what: str, points: list[tuple[int, int | None, int]],
           have_tool: bool) -> None:
    """Build at each (x, areas, incidents) point; rows plus log-log slopes."""
    series: dict[str, list[tuple[int, float, float]]] = {"tool": [], "baseline": []}
    for x, areas, incidents in points:
        if bench.over_budget():
            bench.add(Row(section, f"{what} = {x:,}", None, None, "s", SKIPPED))
            continue
        profile = _dataset(bench, incidents, areas)
        tag = f"noeval_{'all' if areas is None else areas}_{incidents}"
        prior = bench.raw.get("builds", {}).get(tag)
        if prior is not None:
            tool = Measured(**prior["tool"]) if prior["tool"] else None
            base = Measured(**prior["baseline"])
            tool = tool if tool is not None and tool.ok else None
            bench.add(Row(section, f"{what} = {x:,}: wall time", tool.seconds if tool else None,
                          base.seconds if base.ok else None, "s", "same build as above"))
            bench.add(Row(section, f"{what} = {x:,}: peak memory",
                          tool.peak_mb if tool else None,
                          base.peak_mb if base.ok else None, "MB", "same build as above"))
        else:
            tool, base = _build_pair(bench, section, f"{what} = {x:,}", profile, tag,
                                     evaluate=False, have_tool=have_tool)
        if tool is not None:
            series["tool"].append((x, tool.seconds, tool.peak_mb))
        if base.ok:
            series["baseline"].append((x, base.seconds, base.peak_mb))
    bench.raw.setdefault("scaling", {})[what] = series
    for who in ("tool", "baseline"):
        pts = series[who]
        xs = [p[0] for p in pts]
        for idx, unit, name in ((1, "s", "time"), (2, "MB", "peak memory")):
            vals = [p[idx] for p in pts]
            slope = loglog_slope(xs, vals)
            fit = _linear_fit(xs, vals)
            note = ""
            if slope is not None and fit is not None:
                verdict = ("about linear" if 0.85 <= slope <= 1.15 else
                           "time FALLS as size grows: a step slower on sparse data, or noise"
                           if slope < 0 else
                           "sublinear (fixed costs dominate)" if slope < 0.85 else
                           "GROWS FASTER than linear")
                per = 10 ** round(math.log10(max(xs)) - 1)
                note = (f"{verdict}; {fit[0]:.1f} {unit} fixed + {fit[1] * per:.2f} {unit} "
                        f"per {per:,} {what}")
            bench.raw["scaling"][f"{what} {who} {name} slope"] = slope
            bench.add(Row(section, f"{who} {name}: log-log slope over {what}", slope, None,
                          "slope", note or NA))


def section_scaling(bench: Bench, have_tool: bool) -> None:
    """Build (no backtest) over incident counts and over area counts."""
    s = bench.sizes
    n_areas = "33,755" if s.incident_scale_areas is None else f"{s.incident_scale_areas:,}"
    _curve(bench, f"Scaling, incidents ({n_areas} areas, build --no-evaluate)", "incidents",
           [(n, s.incident_scale_areas, n) for n in s.incident_scale], have_tool)
    _curve(bench, f"Scaling, areas ({s.area_scale_incidents:,} incidents, build --no-evaluate)",
           "areas", [(a or 33_755, a, s.area_scale_incidents) for a in s.area_scale], have_tool)


_PROFILE_SCRIPT = """
import cProfile, sys
from firerisk.pipeline import build
cProfile.run("build(sys.argv[1], sys.argv[2], evaluate=sys.argv[4] == '1')", sys.argv[3])
"""


def section_profile(bench: Bench, have_tool: bool) -> None:
    """cProfile the biggest build; print where the time goes."""
    if not (bench.sizes.profile and have_tool) or bench.over_budget():
        bench.raw["profile"] = NA if not have_tool else "skipped"
        return
    builds = bench.raw.get("builds", {})
    candidates = [(t, b) for t, b in builds.items() if b["tool"] and b["tool"]["returncode"] == 0]
    if not candidates:
        return
    tag, info = max(candidates, key=lambda tb: tb[1]["tool"]["seconds"])
    profile = info["profile"]
    folder = bench.out / "runs" / tag
    stats_file = folder / "build.pstats"
    m = measure([PY, "-c", _PROFILE_SCRIPT, profile, str(folder / "profiled.gpkg"),
                 str(stats_file), "1" if info["evaluate"] else "0"],
                log=folder / "profile.log", timeout=bench.sizes.timeout_s)
    if not m.ok:
        bench.raw["profile"] = f"failed, see {m.log}"
        return
    st = pstats.Stats(str(stats_file))
    entries = []
    for (file, line, func), (_cc, _nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        entries.append({"function": f"{Path(file).name}:{line}({func})", "file": file,
                        "cumulative": round(ct, 3), "own": round(tt, 3)})
    ours = [e for e in entries if str(REPO) in e["file"] and ".venv" not in e["file"]]
    ours.sort(key=lambda e: -e["cumulative"])
    own = sorted(entries, key=lambda e: -e["own"])[:10]
    bench.raw["profile"] = {"case": tag, "seconds_under_profiler": m.seconds,
                            "project_by_cumulative": ours[:15], "all_by_own_time": own}


def _results(path: Path) -> Any:
    from firerisk.geo.results import read_results

    return read_results(path)


def map_payload(results_path: Path) -> tuple[int, float]:
    """Bytes the app sends for the first map of every area, and seconds to make them.

    The app writes the simplified, rounded geometry once per results file as a static
    GeoJSON file and sends a small style table with each rerun (``ui/state.py: map_files``,
    ``ui/mapview.py: style_table``); this is the geometry file plus one style table, both
    uncompressed (the browser receives the geometry gzipped).
    """
    from firerisk.ui import mapview
    from firerisk.ui.bands import published_banding
    from firerisk.ui.state import map_files

    start = time.perf_counter()
    results = _results(results_path)
    groups = results.group_columns
    files = map_files(str(results_path), f"bench-{time.time_ns()}",
                      groups[0] if groups else None)
    first = files.areas or files.overview
    size = (REPO / "static" / first).stat().st_size if first else 0
    banding = published_banding(results.areas, results.band_breaks)
    style = mapview.layer_style(results, "band", banding=banding)
    size += len(str(style).encode("utf-8"))
    return size, time.perf_counter() - start


def baseline_map_payload(results_path: Path) -> tuple[int, float]:
    """Bytes and seconds of the naive map: ``folium.Choropleth`` on unsimplified geometry."""
    import folium

    start = time.perf_counter()
    areas = _results(results_path).areas[["area_id", "area_name", "risk_per_1000", "geometry"]]
    areas = areas.to_crs(4326)
    minx, miny, maxx, maxy = areas.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=10)
    chor = folium.Choropleth(geo_data=areas, data=areas, columns=["area_id", "risk_per_1000"],
                             key_on="feature.properties.area_id", fill_color="YlOrRd",
                             legend_name="Expected fires per 1,000 households")
    chor.add_to(m)
    folium.GeoJsonTooltip(fields=["area_name", "risk_per_1000"]).add_to(chor.geojson)
    size = len(m.get_root().render().encode("utf-8"))
    return size, time.perf_counter() - start


def section_map(bench: Bench, london: Path | None, national: Path | None) -> None:
    """Map payload for London and England, against folium.Choropleth."""
    have_ui = all(_optional(m) is not None for m in ("firerisk.ui.mapview", "firerisk.ui.bands", "firerisk.geo.simplify"))
    cases = [("London map (4,994 areas)", london)]
    if bench.sizes.england_map:
        cases.append(("England map (33,755 areas)", national))
    for label, path in cases:
        if path is None or not path.exists():
            bench.add(Row("Map payload", f"{label}: bytes", None, None, "bytes",
                          f"{NA} (no results file from the tool)"))
            continue
        try:
            base_b, base_s = baseline_map_payload(path)
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            base_b, base_s = None, None
            bench.raw.setdefault("map_errors", []).append(f"baseline {label}: {exc!r}")
        tool_b = tool_s = None
        note = ""
        if have_ui:
            try:
                tool_b, tool_s = map_payload(path)
            except Exception as exc:  # noqa: BLE001  (reported in the table)
                note = f"tool map failed: {exc!r}"[:120]
                bench.raw.setdefault("map_errors", []).append(f"tool {label}: {exc!r}")
        else:
            note = f"ui.mapview {NA}"
        bench.add(Row("Map payload", f"{label}: HTML bytes", tool_b, base_b, "bytes", note))
        bench.add(Row("Map payload", f"{label}: build + render time", tool_s, base_s, "s",
                      "in process, warm imports"))


def browser_timings(bench: Bench, london: Path | None, national: Path | None) -> None:
    """Time the map in headless Chromium through the real app, London and England.

    Uses ``tests/browser_helpers.py: measure_map_timings``: page load to every polygon
    drawn on a fresh server (cold) and after a reload (warm), a layer change and a group
    change, with the bytes each sends. There is no offline baseline: a plain
    ``folium.Choropleth`` page loads Leaflet and d3 from CDNs and stays blank here; the
    baseline for bytes is its HTML (see the Map payload rows).
    """
    helpers = _module_from_file(REPO / "tests" / "browser_helpers.py", "browser_helpers")
    sync_api = _optional("playwright.sync_api")
    cases: list[tuple[str, Path | None, tuple[str, str, int] | None]] = [
        ("Browser: London (4,994 areas)", london, None)]
    if bench.sizes.england_map:
        cases.append(("Browser: England (33,755 areas)", national, None))
    for section, path, group in cases:
        if bench.over_budget():
            bench.add(Row(section, "map drawn", None, None, "s", SKIPPED))
            continue
        if (path is None or not path.exists() or helpers is None or sync_api is None
                or not hasattr(helpers, "measure_map_timings") or not helpers.CHROMIUM.exists()):
            bench.add(Row(section, "map drawn", None, None, "s",
                          f"{NA} (results, tests/browser_helpers.py, playwright or chromium)"))
            continue
        from firerisk.ui import mapview

        results = _results(path)
        groups = results.group_columns
        overview = mapview.use_overview(len(results.areas), column=groups[0] if groups else None,
                                        every_area=True)
        expected = int(results.areas[groups[0]].nunique()) if overview else len(results.areas)
        if group is None and groups:
            first = str(min(results.areas[groups[0]].dropna().astype(str).unique()))
            n = int((results.areas[groups[0]].astype(str) == first).sum())
            group = (groups[0].replace("_", " ").capitalize(), first, n)
        env = {k: v for k, v in CHILD_ENV.items() if v is not None}
        try:
            fig = helpers.measure_map_timings(path, work_dir=bench.out / "runs" / section[9:12],
                                              expected=expected, group=group, env=env)
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            bench.add(Row(section, "map drawn", None, None, "s", f"failed: {exc!r}"[:160]))
            continue
        bench.raw.setdefault("browser", {})[section] = fig
        what = "local-authority overview" if overview else "every area"
        bench.add(Row(section, f"page load to {what} drawn, fresh server", fig.get("cold_s"),
                      None, "s", "no offline baseline (folium.Choropleth needs CDN scripts)"))
        bench.add(Row(section, f"page reload to {what} drawn, warm server", fig.get("warm_s"),
                      None, "s", f"{len(fig.get('blocked', []))} off-machine requests"))
        bench.add(Row(section, "layer change to recoloured map", fig.get("layer_s"), None, "s",
                      f"{fig.get('layer_bytes', 0):,} bytes sent, "
                      f"{fig.get('layer_geometry_bytes', 0):,} of them geometry"))
        if "group_s" in fig:
            bench.add(Row(section, f"pick {group[1] if group else 'a group'} to its areas drawn",
                          fig.get("group_s"), None, "s",
                          f"{fig.get('group_bytes', 0):,} bytes sent"))
        bench.add(Row(section, "geometry file (sent once, gzip / uncompressed)",
                      fig.get("cold_geometry_bytes"), None, "bytes",
                      f"{fig.get('geometry_file_bytes', 0):,} bytes uncompressed"))


def _naive_pdf(areas: Any, out: Path, by: str | None) -> int:
    """Baseline PDF: geopandas ``plot`` of the unsimplified areas, one page per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    groups = [(None, areas)] if by is None else list(areas.groupby(by))
    with PdfPages(out) as pdf:
        for name, part in groups:
            fig, ax = plt.subplots(figsize=(11.69, 8.27))
            part.plot(column="risk_per_1000", cmap="YlOrRd", legend=True, ax=ax)
            ax.set_title(str(name or "All areas"))
            ax.set_axis_off()
            pdf.savefig(fig)
            plt.close(fig)
    return len(groups)


def pdf_timings(bench: Bench, london: Path | None) -> None:
    """HOOK: time the London map PDF and atlas PDF (``report.bench.benchmark_reports``).

    In process, results already read. The baseline is a geopandas ``plot`` per page saved
    with ``PdfPages`` (no legend layout, table, scale bar or footer).
    """
    section = "PDF (London)"
    if bench.over_budget():
        bench.add(Row(section, "map PDF / atlas PDF", None, None, "s", SKIPPED))
        return
    rb = _optional("firerisk.report.bench")
    if london is None or rb is None or not hasattr(rb, "benchmark_reports"):
        bench.add(Row(section, "map PDF / atlas PDF", None, None, "s",
                      f"{NA} (report.bench.benchmark_reports or results missing)"))
        return
    folder = bench.out / "runs" / "london" / "pdf"
    try:
        got = rb.benchmark_reports(london, out_dir=folder, atlas=bench.sizes.pdf_atlas)
    except Exception as exc:  # noqa: BLE001  (reported in the table)
        bench.add(Row(section, "map PDF / atlas PDF", None, None, "s", f"failed: {exc!r}"[:160]))
        return
    results = _results(london)
    group = results.group_columns[0] if results.group_columns else None
    start = time.perf_counter()
    _naive_pdf(results.areas, folder / "naive_map.pdf", None)
    naive_map = time.perf_counter() - start
    bench.raw["pdf"] = {"tool": got, "naive_map_s": naive_map}
    bench.add(Row(section, "map PDF, whole service", got.get("map_s"), naive_map, "s",
                  f"{got.get('map_pages', '?')} pages"))
    if "atlas_s" in got and group:
        start = time.perf_counter()
        pages = _naive_pdf(results.areas, folder / "naive_atlas.pdf", group)
        naive_atlas = time.perf_counter() - start
        bench.raw["pdf"]["naive_atlas_s"] = naive_atlas
        bench.add(Row(section, f"atlas PDF, a page per {group}", got["atlas_s"], naive_atlas,
                      "s", f"{got.get('atlas_pages', '?')} pages vs {pages}"))


# --------------------------------------------------------------------------- output

def table(rows: Sequence[Row]) -> str:
    """The one table, as text."""
    header = ("figure", "this tool", "baseline", "tool/base", "note")
    lines: list[tuple[str, ...]] = []
    section = None
    for r in rows:
        if r.section != section:
            lines.append((f"[{r.section}]", "", "", "", ""))
            section = r.section
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(("  " + r.figure, _fmt(r.tool, r.unit), _fmt(r.baseline, r.unit)
                      if r.baseline is not None else "—", ratio, r.note))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header[:4])]
    widths[0] = min(widths[0], 78)

    def fmt(cells: tuple[str, ...]) -> str:
        first = cells[0] if len(cells[0]) <= widths[0] else cells[0][: widths[0] - 1] + "…"
        return "  ".join([first.ljust(widths[0]), cells[1].rjust(widths[1]),
                          cells[2].rjust(widths[2]), cells[3].rjust(widths[3]), cells[4]])

    rule = "-" * (sum(widths) + 8 + 20)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _profile_text(raw: Any) -> str:
    if not isinstance(raw, dict):
        return f"Profile of the biggest build: {raw}"
    head = (f"Profile of the biggest build ({raw['case']}, "
            f"{raw['seconds_under_profiler']:.0f} s under cProfile). "
            "Project functions by cumulative time:")
    out = [head]
    out += [f"  {e['cumulative']:8.2f} s  {e['function']}" for e in raw["project_by_cumulative"]]
    out.append("All functions by own time:")
    out += [f"  {e['own']:8.2f} s  {e['function']}" for e in raw["all_by_own_time"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table; writes ``bench/output/bench.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    p.add_argument("--out", type=Path, default=OUTPUT, help="output folder (bench/output)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every build N times and keep the fastest (default 1)")
    p.add_argument("--no-bytecode-cache", action="store_true",
                   help="run child processes with the session's PYTHONDONTWRITEBYTECODE")
    p.add_argument("--clean", action="store_true",
                   help="delete the generated data sets afterwards (builds are kept)")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    bench = Bench(sizes=sizes, out=args.out / ("quick" if args.quick else "full"),
                  repeat=args.repeat)
    bench.raw["load_average_start"] = os.getloadavg()
    if not args.no_bytecode_cache:
        # This session sets PYTHONDONTWRITEBYTECODE=1, so every fresh process would compile
        # numpy/pandas/statsmodels/... from source (several seconds). A user's install has
        # .pyc files: give the children a bytecode cache inside bench/output instead.
        CHILD_ENV.update({"PYTHONDONTWRITEBYTECODE": None,
                          "PYTHONPYCACHEPREFIX": str(args.out / "pycache")})
    bench.raw["child_env"] = dict(CHILD_ENV)
    if bench.out.exists():
        shutil.rmtree(bench.out)
    have_tool = pipeline_available()
    print(f"bench: {'quick' if args.quick else 'full'} run; firerisk pipeline "
          f"{'found' if have_tool else NA}; {os.cpu_count()} CPUs", file=sys.stderr)

    section_startup(bench)
    section_synthetic(bench)
    london = section_london(bench, have_tool)
    national = section_national(bench, have_tool)
    section_map(bench, london, national)
    browser_timings(bench, london, national)
    pdf_timings(bench, london)
    section_profile(bench, have_tool)
    section_scaling(bench, have_tool)  # last: it stops early when the time budget is used

    total = bench.elapsed()
    bench.raw["load_average_end"] = os.getloadavg()
    print()
    print(f"Community fire risk atlas benchmark ({'quick' if args.quick else 'full'}), "
          f"{os.cpu_count()} CPUs, {total:.0f} s, load average "
          f"{bench.raw['load_average_start'][0]:.1f} at start, "
          f"{bench.raw['load_average_end'][0]:.1f} at end. Ratios are tool / baseline "
          "(below 1: the tool is faster or smaller).")
    print(table(bench.rows))
    print()
    print(_profile_text(bench.raw.get("profile", NA)))
    doc = {"mode": "quick" if args.quick else "full", "seconds": round(total, 1),
           "cpus": os.cpu_count(), "python": sys.version.split()[0],
           "rows": [{**asdict(r), "ratio": r.ratio} for r in bench.rows], "raw": bench.raw}
    args.out.mkdir(parents=True, exist_ok=True)
    result = args.out / ("bench-quick.json" if args.quick else "bench.json")
    result.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nWrote {result}")
    if args.clean:
        shutil.rmtree(bench.out / "data", ignore_errors=True)


if __name__ == "__main__":
    main()
