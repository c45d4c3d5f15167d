"""PNG plots of fitted scaling laws: one figure per language with the runs, the fit and its prediction band."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from coit_hf.analysis.plotting import pyplot, save_png
from coit_hf.scaling.laws import FitResult


def plot_fit(
    fit: FitResult,
    sizes: Sequence[float],
    scores: Sequence[float],
    path: str | os.PathLike,
    *,
    level: float = 0.95,
    extend_to: float | None = None,
) -> Path:
    """Write a PNG of one language's observations, fitted curve and ``level`` prediction band; returns the path.

    The x axis is logarithmic; the curve extends to ``extend_to`` (e.g. an allocated size) when given.
    """
    plt = pyplot()
    sizes_arr = np.asarray(sizes, dtype=float)
    lo_n = float(sizes_arr.min()) / 1.5
    hi_n = max(float(sizes_arr.max()), extend_to or 0.0) * 1.5
    grid = np.geomspace(lo_n, hi_n, 200)
    mean = fit.predict(grid)
    band_lo, band_hi = fit.interval(grid, level=level, kind="prediction")
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=110)
    if np.all(np.isfinite(band_lo)):
        ax.fill_between(grid, band_lo, band_hi, alpha=0.2, label=f"{int(level * 100)}% prediction band")
    ax.plot(grid, mean, label=f"{fit.family}: {fit.law.formula}")
    ax.scatter(sizes_arr, scores, color="black", zorder=3, s=18, label="runs")
    ax.set_xscale("log")
    ax.set_xlabel("translation pairs")
    ax.set_ylabel(fit.metric or "score")
    ax.set_title(f"{fit.lang}: R²={fit.r2:.3f}, RMSE={fit.rmse:.2f}")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_png(fig, path)
