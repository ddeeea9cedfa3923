"""Reproduce the model-comparison tables in the README's Method section.

Usage::

    python scripts/compare_models.py london    [--bootstrap 200]  # London: model variants
    python scripts/compare_models.py services                     # the design across services
    python scripts/compare_models.py deciles                      # London calibration, before/after
    python scripts/compare_models.py groups                       # London capture inside boroughs
    python scripts/compare_models.py coverage                     # rank-range coverage (synthetic)
    python scripts/compare_models.py all

Every configuration is scored by the same rolling-origin backtest (``risk.evaluate``), ranking
areas by expected fires per 1,000 households. The synthetic services come from
``bench.synth.panel`` (real English LSOA covariates from the shared data folder, counts drawn
from a known model), so the true ranking is known: "x truth" is the model's capture@10 over
the capture of the true expected fires. Synthetic figures are means over three seeds. Each
section prints its wall time and the machine's load average (2 shared cores: compare ratios).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firerisk.geo.profile import load_profile
from firerisk.pipeline import _weights, model_config, prepare
from firerisk.risk.evaluate import (
    BacktestResult,
    backtest,
    calibration_table,
    compare_models,
    group_capture_table,
    worst_decile,
)
from firerisk.risk.model import ModelConfig
from firerisk.risk.uncertainty import simulate
from firerisk.specs import FeatureSpec

DOMAINS = ("Income_score", "Employment_score", "Education_score", "Health_score", "Crime_score",
           "Housing_and_Services_score", "Environment_score")
SIMPLE_RULES = ("last_year", "history_5y", "eb_rate", "imd")
FEATURES = ("imd_score", "social_rent_share", "flat_share")
SEEDS = (1, 2, 3)

#: The default before issue 15: one response year, a decay of 0.9, weighted EB exposure.
BEFORE: dict[str, Any] = {"training_years": 1, "year_effect": "separate",
                          "history_span": "equal", "history_decay": 0.9,
                          "history_exposure": "weighted"}
ROOT = Path(__file__).resolve().parents[1]

#: The synthetic services: areas near Birmingham, 2015-2024, NB2 year noise alpha 0.2.
SERVICES: dict[str, dict[str, Any]] = {
    "Synthetic: 1,000 areas, strong history (area sd 0.5)":
        {"areas": 1000, "incidents": 10_000, "area_sd": 0.5},
    "Synthetic: 1,000 areas, weak history (sd 0.25)":
        {"areas": 1000, "incidents": 10_000, "area_sd": 0.25},
    "Synthetic: 1,000 areas, no history signal (sd 0)":
        {"areas": 1000, "incidents": 10_000, "area_sd": 0.0},
    "Synthetic: 4,000 areas, sparse (0.3 fires a year each), strong history":
        {"areas": 4000, "incidents": 12_000, "area_sd": 0.5},
    "Synthetic: 4,000 areas, no year trend, weak history":
        {"areas": 4000, "incidents": 40_000, "area_sd": 0.25, "year_trend": 0.0},
}


def designs() -> dict[str, ModelConfig]:
    """The training designs compared across services (features set per service)."""
    base = ModelConfig(features=FEATURES)
    return {
        "before: 1 response year, decay 0.9": replace(base, **BEFORE),
        "1 response year, decay 0.95": replace(base, training_years=1),
        "**default: 3 years pooled, trend, decay 0.95**": base,
        "3 years pooled, one level per year": replace(base, year_effect="separate"),
        "5 years pooled, trend": replace(base, training_years=5),
        "every year pooled, trend": replace(base, training_years=None),
        "covariates only, every year pooled (Poisson)": replace(
            base, family="poisson", history=False, training_years=None),
    }


@dataclass(frozen=True)
class _Truth:
    expected: pd.Series


def _truth_fit(mu: pd.DataFrame) -> Callable[..., _Truth]:
    def fit(counts: pd.DataFrame, covariates: pd.DataFrame, *, target_year: int,
            config: ModelConfig, weights: Any = None) -> _Truth:
        return _Truth(mu[target_year])
    return fit


def _summary(res: BacktestResult) -> dict[str, float]:
    model = res.pooled["model"].capture[10]
    best = max(res.pooled[r].capture[10] for r in SIMPLE_RULES if r in res.pooled)
    worst = worst_decile(res)
    return {"capture_10": model, "best_rule": best, "x_best": model / best,
            "worst_decile": np.nan if worst is None else abs(worst[1]),
            "deviance": float(res.pooled["model"].deviance or np.nan)}


def _london() -> tuple[Any, Any]:
    profile = load_profile("sample_data/london.toml")
    return profile, prepare(profile)


def _stamp(name: str, started: float) -> None:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n({name}: {time.perf_counter() - started:.0f} s; load average {load})\n")


def london_table(bootstrap: int) -> None:
    """London: every model variant, with the baselines (as in the README)."""
    started = time.perf_counter()
    profile = load_profile("sample_data/london.toml")
    # The IMD domain scores are compared too: add them as extra features of the profile.
    extra = tuple(FeatureSpec(name=d.lower(), label=d, column=d, unit="score") for d in DOMAINS)
    prepared = prepare(replace(profile, features=(*profile.features, *extra)))
    base = replace(model_config(profile), moran_permutations=0)
    domains = tuple(f.name for f in extra)
    configs = {
        "Poisson, covariates only": replace(base, family="poisson", history=False),
        "NB, covariates only": replace(base, family="negative_binomial", history=False),
        "NB, IMD domains + tenure + flats, no history": replace(
            base, family="negative_binomial", history=False,
            features=(*domains, "social_rent_share", "flat_share")),
        "NB + 5-year EB history (equal weights)": replace(
            base, history_window=5, history_decay=1.0),
        "NB + 5-year EB history, prior = covariate model": replace(
            base, history_window=5, history_decay=1.0, history_prior="covariates"),
        "before: NB, 1 response year, all-years EB history, decay 0.9": replace(base, **BEFORE),
        "Poisson, default design": replace(base, family="poisson"),
        "**NB, 3 years pooled with a trend, all-years EB history, decay 0.95 (default)**":
            base,
        "default + neighbours' history (queen lag)": replace(base, spatial_lag=True),
        "default with IMD domains instead of IMD score": replace(
            base, features=(*domains, *[f for f in base.features if f != "imd_score"])),
    }
    table = compare_models(prepared.counts, prepared.covariates, configs=configs,
                           full_years=prepared.full_years,
                           origins=[y for y in prepared.full_years if 2015 <= y <= 2023],
                           window_years=profile.evaluation.window_years, bootstrap=bootstrap,
                           weights=_weights(prepared.areas), model_rank="rate")
    print("| configuration | capture@10 (95% CI) | capture@20 | deviance | calib. ratio | "
          "calib. slope | worst decile | residual Moran's I |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in table.iterrows():
        ci = (f" ({100 * row.capture_10_low:.1f}–{100 * row.capture_10_high:.1f})"
              if pd.notna(row.capture_10_low) else "")

        def f(v: Any, fmt: str) -> str:
            return "n/a" if v is None or pd.isna(v) else fmt.format(v)

        print(f"| {name} | {100 * row.capture_10:.1f}%{ci} | {100 * row.capture_20:.1f}% | "
              f"{f(row.deviance, '{:.3f}')} | {f(row.calib_ratio, '{:.3f}')} | "
              f"{f(row.calib_slope, '{:.2f}')} | "
              f"{f(None if pd.isna(row.calib_max_error) else 100 * row.calib_max_error, '{:.1f}%')} | "
              f"{f(row.residual_moran, '{:.3f}')} |")
    _stamp("london", started)


def services_table() -> None:
    """Every design on London and on the synthetic services (bootstrap 0)."""
    started = time.perf_counter()
    profile, prepared = _london()
    rows: list[dict[str, Any]] = []
    london_cfg = model_config(profile)
    for name, cfg in designs().items():
        cfg = replace(cfg, features=london_cfg.features)
        res = backtest(prepared.counts, prepared.covariates, full_years=prepared.full_years,
                       origins=[y for y in prepared.full_years if 2015 <= y <= 2023],
                       config=cfg, bootstrap=0, model_rank="rate")
        rows.append({"service": "London (real, 4,994 areas)", "design": name, **_summary(res)})
    for service, spec in SERVICES.items():
        for seed in SEEDS:
            data = _synthetic(spec, seed)
            full = list(data.counts.columns)
            origins = [y for y in full if y >= full[0] + 5]
            truth = backtest(data.counts, data.covariates, full_years=full, origins=origins,
                             config=ModelConfig(), bootstrap=0, fit=_truth_fit(data.mu),
                             model_rank="rate")
            true_cap = truth.pooled["model"].capture[10]
            for name, cfg in designs().items():
                res = backtest(data.counts, data.covariates, full_years=full, origins=origins,
                               config=cfg, bootstrap=0, model_rank="rate")
                rows.append({"service": service, "design": name, "seed": seed,
                             "x_truth": res.pooled["model"].capture[10] / true_cap,
                             "truth_worst_decile": _summary(truth)["worst_decile"],
                             **_summary(res)})
    frame = pd.DataFrame(rows)
    means = frame.groupby(["service", "design"], sort=False).mean(numeric_only=True)
    for service in means.index.get_level_values(0).unique():
        part = means.loc[service]
        synthetic = "x_truth" in part and part["x_truth"].notna().any()
        print(f"\n**{service}**" + (" (mean of 3 seeds)" if synthetic else "") + "\n")
        head = "| design | capture@10 | × best simple rule |" + (" × truth |" if synthetic
                                                                else "")
        print(head + " worst decile | deviance |")
        print("|---" * (5 + synthetic) + "|")
        for design, r in part.iterrows():
            cells = [f"{100 * r.capture_10:.1f}%", f"{r.x_best:.3f}"]
            if synthetic:
                cells.append(f"{r.x_truth:.3f}")
            cells += [f"{100 * r.worst_decile:.1f}%", f"{r.deviance:.4f}"]
            print(f"| {design} | " + " | ".join(cells) + " |")
        best = part["best_rule"].iloc[0]
        note = f"best simple rule: {100 * best:.1f}%"
        if synthetic:
            note += (f"; the true model's own worst decile: "
                     f"{100 * part['truth_worst_decile'].iloc[0]:.1f}% (decile noise)")
        print(f"\n({note})")
    _compact(means)
    _stamp("services", started)


def _compact(means: pd.DataFrame) -> None:
    """The same figures as two tables with one column per service (for the README)."""
    services = list(means.index.get_level_values(0).unique())
    short = ["London"] + [f"S{i}" for i in range(1, len(services))]
    print("\nServices: " + "; ".join(f"{k} = {v}" for k, v in zip(short[1:], services[1:],
                                                                  strict=True)))
    for title, cell in (
            ("capture@10 × best simple rule (× truth)",
             lambda r: f"{r.x_best:.3f}" + (f" ({r.x_truth:.3f})" if pd.notna(
                 r.get("x_truth", np.nan)) else "")),
            ("worst calibration decile", lambda r: f"{100 * r.worst_decile:.1f}%")):
        print(f"\n{title}\n")
        print("| design | " + " | ".join(short) + " |")
        print("|---" * (len(short) + 1) + "|")
        for design in means.loc[services[0]].index:
            print(f"| {design} | " + " | ".join(cell(means.loc[(sv, design)])
                                                for sv in services) + " |")


def _synthetic(spec: dict[str, Any], seed: int) -> Any:
    """One synthetic service in memory (``bench.synth.panel``, from the repository root)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.synth import SynthConfig, TrueModel, panel

    model = TrueModel(area_sd=spec["area_sd"], alpha=0.2,
                      year_trend=spec.get("year_trend", -0.03))
    return panel(SynthConfig(incidents=spec["incidents"], areas=spec["areas"], seed=seed,
                             model=model))


def deciles_table() -> None:
    """London's pooled calibration per decile, before and after issue 15's design."""
    started = time.perf_counter()
    profile, prepared = _london()
    cfg = model_config(profile)
    tables = {}
    for name, c in (("before", replace(cfg, **BEFORE)), ("after", cfg)):
        res = backtest(prepared.counts, prepared.covariates, full_years=prepared.full_years,
                       origins=[y for y in prepared.full_years if 2015 <= y <= 2023],
                       config=c, bootstrap=0, model_rank="rate")
        tables[name] = calibration_table(res)
    print("| decile (1 = lowest forecast) | before: forecast / observed per area (error) | "
          "after: forecast / observed per area (error) |")
    print("|---|---|---|")
    b, a = tables["before"], tables["after"]
    assert b is not None
    assert a is not None
    for i in range(len(a)):
        print(f"| {int(a.decile[i])} | {b.mean_predicted[i]:.3f} / {b.mean_observed[i]:.3f} "
              f"({100 * b.error[i]:+.1f}%) | {a.mean_predicted[i]:.3f} / "
              f"{a.mean_observed[i]:.3f} ({100 * a.error[i]:+.1f}%) |")
    print(f"\n(deciles of about {int(a.areas.mean()):,} area-years each: 4,994 areas x 9 "
          "origins, put in deciles of the forecast within each origin)")
    _stamp("deciles", started)


def groups_table() -> None:
    """London's capture@10 inside each borough, beside the service-wide figure."""
    started = time.perf_counter()
    profile, prepared = _london()
    groups = pd.Series(prepared.areas["borough"].to_numpy(),
                       index=prepared.areas["area_id"].to_numpy(), name="borough")
    res = backtest(prepared.counts, prepared.covariates, full_years=prepared.full_years,
                   origins=[y for y in prepared.full_years if 2015 <= y <= 2023],
                   config=model_config(profile), bootstrap=0, model_rank="rate", groups=groups)
    table = group_capture_table(res)
    assert table is not None
    rules = [r for r in SIMPLE_RULES if r in table.columns]
    fixed = max(rules, key=lambda r: table.at["Whole service", r])  # best rule service-wide
    table["best_there"] = table[rules].max(axis=1)
    print(f"| borough | areas | model | {fixed} (best rule service-wide) | model ÷ {fixed} | "
          "best of the 4 rules there (chosen after the fact) |")
    print("|---|---|---|---|---|---|")
    for g, r in table.iterrows():
        print(f"| {g} | {int(r.areas):,} | {100 * r.model:.1f}% | {100 * r[fixed]:.1f}% | "
              f"{r.model / r[fixed]:.2f} | {100 * r.best_there:.1f}% |")
    inner = table.drop(index="Whole service")
    print(f"\nmedian over boroughs: model {100 * inner.model.median():.1f}%, {fixed} "
          f"{100 * inner[fixed].median():.1f}%, best of the four there "
          f"{100 * inner.best_there.median():.1f}%; the model finds at least as many as "
          f"{fixed} in {int((inner.model >= inner[fixed]).sum())} of {len(inner)} boroughs and "
          f"as the best of the four in {int((inner.model >= inner.best_there).sum())}")
    _stamp("groups", started)


def coverage_table(n_sim: int = 1000) -> None:
    """Do the 90% ranges of rank hold the true rank? Synthetic services, truth known."""
    started = time.perf_counter()
    print("| service | 90% ranges holding the true rank: whole service | inside local "
          "authorities | median width (share of areas) |")
    print("|---|---|---|---|")
    for service, spec in SERVICES.items():
        inside, inside_g, width = [], [], []
        for seed in SEEDS:
            data = _synthetic(spec, seed)
            last = int(data.counts.columns[-1])
            fit = _fit_all(data)
            res = simulate(fit, n_sim=n_sim, seed=seed, groups={"la": data.groups})
            true_rate = data.mu[last] / data.covariates["households"]
            true_rank = true_rate.rank(ascending=False)
            inside.append(((true_rank >= res.rank_low) & (true_rank <= res.rank_high)).mean())
            g = res.groups["la"]
            true_in = true_rate.groupby(data.groups).rank(ascending=False)
            inside_g.append(((true_in >= g.rank_low) & (true_in <= g.rank_high)).mean())
            width.append(((res.rank_high - res.rank_low) / len(true_rank)).median())
        print(f"| {service} | {100 * np.mean(inside):.1f}% | {100 * np.mean(inside_g):.1f}% | "
              f"{100 * np.mean(width):.0f}% |")
    _stamp("coverage", started)


def _fit_all(data: Any) -> Any:
    from firerisk.risk.model import fit_predict

    last = int(data.counts.columns[-1])
    return fit_predict(data.counts, data.covariates, target_year=last + 1,
                       config=ModelConfig(features=FEATURES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", nargs="?", default="london",
                        choices=["london", "services", "deciles", "groups", "coverage", "all"])
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()
    run = {"london": lambda: london_table(args.bootstrap), "services": services_table,
           "deciles": deciles_table, "groups": groups_table, "coverage": coverage_table}
    for name, step in run.items():
        if args.table in (name, "all"):
            step()


if __name__ == "__main__":
    main()
