"""Model-card hook for scaling fits: a markdown section plus the plots to attach.

Returns plain values (markdown, ``[(title, image path)]``) so the card code (``coit_hf.hub.cards.CardAttachment``)
or a recipe's ``card_attachments: ["TITLE=PATH"]`` can take them without this stage importing the card stage.
"""

from __future__ import annotations

import os
from pathlib import Path

from coit_hf.errors import InputError
from coit_hf.files import read_json


def card_section(fits_path: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """Markdown table of the fitted laws in ``fits.json`` (from ``coit-hf scaling fit``) and the plots to attach."""
    path = Path(fits_path)
    data = read_json(path, missing="fits file not found (run `coit-hf scaling fit` first)")
    fits = data.get("fits") or {}
    if not fits:
        raise InputError("no fits in the file", path=path, field="fits")
    metric = data.get("metric") or "score"
    lines = [
        "## Scaling law of translation quality",
        "",
        f"{metric} as a function of the number of translation pairs n, fitted per language "
        f"(model choice by {str(data.get('criterion', 'aicc')).upper()}).",
        "",
        "| language | law | parameters (± s.e.) | R² | RMSE | runs |",
        "|---|---|---|---|---|---|",
    ]
    for lang, fit in fits.items():
        stderr = fit.get("stderr") or {}
        params = ", ".join(f"{k} = {v:.4g} ± {stderr.get(k, float('nan')):.2g}" for k, v in fit["params"].items())
        lines.append(f"| {lang} | `{fit.get('formula', fit['family'])}` | {params} | {fit.get('r2', float('nan')):.3f} "
                     f"| {fit.get('rmse', float('nan')):.2f} | {fit.get('n_obs', '')} |")
    attachments = [(f"Scaling fit ({lang})", p) for lang, p in (data.get("plots") or {}).items() if Path(p).is_file()]
    return "\n".join(lines) + "\n", attachments


def card_attachment_specs(fits_path: str | os.PathLike) -> list[str]:
    """The plots as ``TITLE=PATH`` strings for a recipe's ``card_attachments``."""
    return [f"{title}={p}" for title, p in card_section(fits_path)[1]]
