"""The priority bands as people see them: colours, borders and legend wording, written once.

Shared by the app's map (``ui/mapview.py`` and the map script it feeds) and the default QGIS
style stored in the results file (``geo/styles.py``), so an analyst who opens the GeoPackage in
QGIS sees the bands in the app's palette, with the app's labels and ranges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "BORDER_COLOUR",
    "BORDER_WEIGHT",
    "FILL_OPACITY",
    "NO_DATA_COLOUR",
    "NO_DATA_LABEL",
    "band_range",
    "band_ranges",
    "sequential_colours",
]

#: Fill of an area with no band (no estimate).
NO_DATA_COLOUR = "#b0b0b0"
NO_DATA_LABEL = "No data"
#: Area borders (screen pixels) and the opacity of the fills.
BORDER_COLOUR = "#ffffff"
BORDER_WEIGHT = 0.6
FILL_OPACITY = 0.85


def sequential_colours(k: int, *, palette: str = "YlOrRd") -> list[str]:
    """*k* colours from a colour-blind-safe sequential palette (ColorBrewer YlOrRd, viridis)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[palette]
    # YlOrRd runs light to dark; viridis runs dark to light (used for IMD, class 1 = most
    # deprived = darkest). The palette's extreme ends are skipped (too pale / too dark).
    stops = np.linspace(0.12, 0.95, k) if palette != "viridis" else np.linspace(0.0, 0.92, k)
    return [to_hex(cmap(float(x))) for x in stops]


def _fmt_rate(v: float) -> str:
    """A band limit as the legends print it (two decimals below 1, else one)."""
    return f"{v:.2f}" if abs(v) < 1 else f"{v:.1f}"


def band_range(lower: float, upper: float) -> str:
    """``"1.8–5.6"``: a band's range of expected fires per 1,000 households."""
    return f"{_fmt_rate(lower)}–{_fmt_rate(upper)}"


def band_ranges(lower: Sequence[float], upper: Sequence[float]) -> tuple[str, ...]:
    """The range of each band; empty when any limit is missing (public results hide them)."""
    lows, highs = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if not len(lows) or len(lows) != len(highs) or not (np.isfinite(lows).all()
                                                        and np.isfinite(highs).all()):
        return ()
    return tuple(band_range(lo, hi) for lo, hi in zip(lows, highs, strict=True))
