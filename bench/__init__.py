"""Benchmarks: the synthetic national data generator, the naive baseline and the bench runner.

Run ``python -m bench.synth --help`` and ``python -m bench.run --help``. Everything these
write goes to ``bench/output/`` (ignored by git).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["OUTPUT", "REPO", "SHARED"]

REPO = Path(__file__).resolve().parent.parent
"""The repository root."""

OUTPUT = REPO / "bench" / "output"
"""Where generated data sets, builds and ``bench.json`` go."""

SHARED = REPO.parent / "shared" / "data"
"""The shared public data folder (boundaries, IMD, census)."""
