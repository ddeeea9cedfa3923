"""The naive baseline the benchmark compares against: a straightforward geopandas script.

It does what an analyst would write in an afternoon, with the same inputs (a dataset
profile) and the same broad steps as ``firerisk build``: read the areas and incidents, join
points to polygons with ``geopandas.sjoin``, count per area and year with ``groupby``, fit
a statsmodels negative binomial model (households as exposure) on the last full years,
predict next year, rank, cut into quintile bands and write a GeoPackage. With
``--evaluate`` it also runs a rolling-origin backtest (refit per origin year, top-10%
capture and Spearman correlation, area bootstrap), mirroring what ``firerisk build`` does
by default. No validation, no accounting, no uncertainty, no explanations, no disclosure
control: it is a speed yardstick, not a product.

Usage::

    python -m bench.baseline build --config PROFILE.toml --out baseline.gpkg [--evaluate]
    python -m bench.baseline evaluate --config PROFILE.toml
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import statsmodels.api as sm
from scipy import stats

from firerisk.geo.profile import load_profile
from firerisk.specs import Profile

__all__ = ["backtest", "build", "count_incidents", "fit_predict", "main", "read_covariates"]


def count_incidents(profile: Profile) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[int]]:
    """Areas (EPSG:27700), area x year counts (every area, every year) and the full years."""
    areas = gpd.read_file(profile.areas.path, layer=profile.areas.layer)
    areas = areas.to_crs(profile.working_crs or "EPSG:27700")
    spec = profile.incidents
    inc = pd.read_csv(spec.path)
    inc["date"] = pd.to_datetime(inc[spec.date], format=spec.date_format, errors="coerce")
    inc = inc.dropna(subset=[spec.x, spec.y, "date"])
    start, end = profile.study.start, profile.study.end
    if start is not None:
        inc = inc[inc["date"] >= pd.Timestamp(start)]
    if end is not None:
        inc = inc[inc["date"] <= pd.Timestamp(end)]
    points = gpd.GeoDataFrame(inc[["date"]], crs=spec.crs or "EPSG:27700",
                              geometry=gpd.points_from_xy(inc[spec.x], inc[spec.y]))
    points = points.to_crs(areas.crs)
    joined = gpd.sjoin(points, areas[[profile.areas.id, "geometry"]], predicate="within")
    joined["year"] = joined["date"].dt.year
    first = start.year if start else int(joined["year"].min())
    last_day = end or joined["date"].max().date()
    last_full = last_day.year if last_day >= date(last_day.year, 12, 31) else last_day.year - 1
    years = list(range(first, last_full + 1))
    counts = joined.groupby([profile.areas.id, "year"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=areas[profile.areas.id], columns=years, fill_value=0)
    return areas, counts, years


def read_covariates(profile: Profile, index: pd.Index) -> pd.DataFrame:
    """Households and the profile's features, one row per area in *index* order."""
    raw: pd.DataFrame | None = None
    for cov in profile.covariates:
        table = pd.read_csv(cov.path, dtype={cov.key: str}).set_index(cov.key)
        raw = table if raw is None else raw.merge(table, how="left", left_index=True,
                                                  right_index=True,
                                                  suffixes=("", f"_{cov.name}"))
    assert raw is not None
    raw = raw.reindex(index)
    out = pd.DataFrame(index=index)
    out["households"] = raw[profile.exposure.column].astype(float)
    for f in profile.features:
        if f.column:
            out[f.name] = raw[f.column].astype(float)
        else:
            out[f.name] = raw[list(f.numerator)].sum(axis=1) / raw[f.denominator]
    return out


def fit_predict(train: pd.Series, covariates: pd.DataFrame, n_years: int) -> np.ndarray:
    """Fit NB (alpha estimated) to *train* totals over *n_years*; expected count for one year."""
    x = sm.add_constant(covariates.drop(columns="households").fillna(0.0))
    exposure = covariates["households"].to_numpy() * n_years
    fit = sm.NegativeBinomial(train.to_numpy(), x, exposure=exposure).fit(disp=0, maxiter=200)
    return np.asarray(fit.predict(x, exposure=covariates["households"].to_numpy()))


def backtest(counts: pd.DataFrame, covariates: pd.DataFrame, profile: Profile, years: list[int],
             *, bootstrap: int = 500, seed: int = 0) -> list[dict[str, Any]]:
    """Rolling-origin backtest: per origin year, fit on the window before it and score it."""
    ev = profile.evaluation
    window = ev.window_years
    first = ev.first if ev.first is not None else years[0] + window
    last = ev.last if ev.last is not None else years[-1]
    rng = np.random.default_rng(seed)
    rows = []
    for origin in range(first, last + 1):
        train_years = [y for y in range(origin - window, origin) if y in counts.columns]
        if origin not in counts.columns or not train_years:
            continue
        pred = fit_predict(counts[train_years].sum(axis=1), covariates, len(train_years))
        actual = counts[origin].to_numpy()
        top = np.argsort(-pred)[: max(1, len(pred) // 10)]
        capture = actual[top].sum() / max(actual.sum(), 1)
        rho = stats.spearmanr(pred, actual).statistic
        boot = []
        for _ in range(bootstrap):
            i = rng.integers(0, len(pred), len(pred))
            t = np.argsort(-pred[i])[: max(1, len(i) // 10)]
            boot.append(actual[i][t].sum() / max(actual[i].sum(), 1))
        lo, hi = (np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan))
        rows.append({"origin": origin, "top10_capture": float(capture), "capture_low": float(lo),
                     "capture_high": float(hi), "spearman": float(rho)})
    return rows


def build(config: str | Path, out: str | Path, *, evaluate: bool = False) -> dict[str, float]:
    """Read, join, count, fit, rank and write a GeoPackage; returns seconds per step."""
    t = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(step: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[step] = round(now - t, 3)
        t = now

    profile = load_profile(config)
    areas, counts, years = count_incidents(profile)
    lap("read, join, count")
    covariates = read_covariates(profile, counts.index)
    recent = years[-profile.study.history_years:]
    expected = fit_predict(counts[recent].sum(axis=1), covariates, len(recent))
    lap("fit")
    result = areas.copy()
    for y in years:
        result[f"obs_{y}"] = counts[y].to_numpy()
    result["households"] = covariates["households"].to_numpy()
    result["expected"] = expected
    result["risk_per_1000"] = 1000 * expected / result["households"]
    result["rank"] = result["risk_per_1000"].rank(ascending=False, method="first").astype(int)
    result["band_index"] = pd.qcut(result["risk_per_1000"], profile.bands.k,
                                   labels=False, duplicates="drop") + 1
    Path(out).unlink(missing_ok=True)
    result.to_file(out, layer="areas", driver="GPKG")
    if evaluate:
        lap("write")
        table = pd.DataFrame(backtest(counts, covariates, profile, years,
                                      bootstrap=profile.evaluation.bootstrap))
        pyogrio.write_dataframe(table, out, layer="evaluation", driver="GPKG")
        lap("evaluate")
    else:
        lap("write")
    return seconds


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m bench.baseline build|evaluate --config P ...``."""
    p = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--config", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--evaluate", action="store_true")
    e = sub.add_parser("evaluate")
    e.add_argument("--config", required=True)
    args = p.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.config, args.out, evaluate=args.evaluate)))
    else:
        profile = load_profile(args.config)
        _, counts, years = count_incidents(profile)
        covariates = read_covariates(profile, counts.index)
        print(json.dumps(backtest(counts, covariates, profile, years,
                                  bootstrap=profile.evaluation.bootstrap), indent=2))


if __name__ == "__main__":
    main()
