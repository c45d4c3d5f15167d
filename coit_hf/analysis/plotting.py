"""Figure helpers shared by the analysis and scaling plots (headless backend, atomic PNG writes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from coit_hf.files import write_png


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the headless Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG to ``path`` through a temp file + rename, close it, and return the path."""
    path = Path(path)
    try:
        write_png(path, fig)
    finally:
        pyplot().close(fig)
    return path
