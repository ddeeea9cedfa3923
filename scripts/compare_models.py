"""Reproduce the model-comparison table in the README's Method section.

Usage::

    python scripts/compare_models.py [--config sample_data/london.toml] [--bootstrap 200]

Every configuration is scored by the same rolling-origin backtest (risk.evaluate), ranking
areas by expected fires per 1,000 households, with the residual Moran's I of each fit
(queen contiguity, esda) averaged over the origins.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd

from firerisk.geo.profile import load_profile
from firerisk.pipeline import _weights, model_config, prepare
from firerisk.risk.evaluate import compare_models
from firerisk.specs import FeatureSpec

DOMAINS = ("Income_score", "Employment_score", "Education_score", "Health_score", "Crime_score",
           "Housing_and_Services_score", "Environment_score")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="sample_data/london.toml")
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()

    profile = load_profile(args.config)
    # The IMD domain scores are compared too: add them as extra features of the profile.
    extra = tuple(FeatureSpec(name=d.lower(), label=d, column=d, unit="score") for d in DOMAINS)
    prepared = prepare(replace(profile, features=(*profile.features, *extra)))
    areas, covariates, counts = prepared.areas, prepared.covariates, prepared.counts
    full = prepared.full_years
    base = replace(model_config(profile), moran_permutations=0)
    default_features = base.features
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
        "Poisson + all-years EB history, decay 0.9": replace(base, family="poisson"),
        "NB + all-years EB history, decay 0.9 (default)": base,
        "default + neighbours' history (queen lag)": replace(base, spatial_lag=True),
        "default with IMD domains instead of IMD score": replace(
            base, features=(*domains, *[f for f in default_features if f != "imd_score"])),
    }
    table = compare_models(counts, covariates, configs=configs, full_years=full,
                           origins=[y for y in full if 2015 <= y <= 2023],
                           window_years=profile.evaluation.window_years, bootstrap=args.bootstrap,
                           weights=_weights(areas), model_rank="rate")
    cols = ["capture_5", "capture_10", "capture_10_low", "capture_10_high", "capture_20",
            "deviance", "calib_ratio", "calib_slope", "calib_max_error", "residual_moran"]
    shown = table[[c for c in cols if c in table.columns]]
    print("| configuration | " + " | ".join(shown.columns) + " |")
    print("|---" * (len(shown.columns) + 1) + "|")
    for name, row in shown.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.4f}" for v in row]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
