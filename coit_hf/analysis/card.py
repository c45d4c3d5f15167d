"""Model-card hook for the alignment analysis: a markdown section plus the heatmap to attach.

Returns plain values (markdown, ``[(title, image path)]``) for ``coit_hf.hub.cards.CardAttachment`` or a recipe's
``card_attachments: ["TITLE=PATH"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from coit_hf.errors import InputError
from coit_hf.files import read_json


def card_section(alignment_dir_or_json: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """Markdown summary of an ``alignment.json`` (or its folder) and the ``alignment.png`` beside it."""
    path = Path(alignment_dir_or_json)
    if path.is_dir():
        path = path / "alignment.json"
    data = read_json(path, missing="alignment result not found (run `coit-hf align --output-dir DIR` first)")
    try:
        summary = data["summary"]
        best = int(summary["best_layer_by_gap"])
        gap = summary["mean_gap"][best]
        retrieval = summary["mean_retrieval"][best]
    except (KeyError, IndexError, TypeError) as exc:
        raise InputError("not an alignment result", path=path, field=str(exc)) from None
    lines = [
        "## Cross-lingual representation alignment",
        "",
        f"Mean-pooled hidden states of {data.get('n_sentences')} parallel sentences in "
        f"{', '.join(data.get('languages', []))}. The layer where translations are closest relative to random "
        f"pairs is layer {best} of {len(data.get('layers', [])) - 1} (mean cosine gap {gap:.3f}, top-1 retrieval "
        f"{retrieval:.2f}; chance {data.get('chance_retrieval', float('nan')):.3f}).",
    ]
    plot = path.with_name("alignment.png")
    attachments = [("Representation alignment by layer", str(plot))] if plot.is_file() else []
    return "\n".join(lines) + "\n", attachments


COMPARISON_HEADING = "## Cross-lingual representation alignment: before and after tuning"


def comparison_card_section(compare_dir_or_json: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """Markdown summary of an ``alignment_compare.json`` (or its folder) and the figure beside it."""
    from coit_hf.analysis.compare import COMPARE_JSON, COMPARE_PNG

    path = Path(compare_dir_or_json)
    if path.is_dir():
        path = path / COMPARE_JSON
    data = read_json(path, missing="alignment comparison not found (run `coit-hf align --model A --model B` first)")
    try:
        reference = data["reference"]
        models = data["models"]
        changes = data["change_vs_reference"]
    except (KeyError, TypeError) as exc:
        raise InputError("not an alignment comparison", path=path, field=str(exc)) from None
    lines = [
        COMPARISON_HEADING,
        "",
        f"Mean-pooled hidden states of {data.get('n_sentences')} parallel sentences in "
        f"{', '.join(data.get('languages') or [])}, per layer: cosine of translation pairs minus cosine of random "
        f"pairs (gap), and top-1 retrieval of the translation (chance {data.get('chance_retrieval') or 0:.3f}).",
        "",
        "| model | best layer by gap | gap there | retrieval there |",
        "|---|---:|---:|---:|",
    ]
    for label, model in models.items():
        best = int(model.get("best_layer_by_gap") or 0)
        lines.append(f"| {label} | {best} | {model['mean_gap'][best]:.4f} | {model['mean_retrieval'][best]:.3f} |")
    for label, change in changes.items():
        gained = ", ".join(f"{i} ({change['gap'][i]:+.4f})" for i in change["layers_gained_most"]) or "none"
        lines += ["", f"Layers where {label} gained most in gap over {reference}: {gained}."]
    plot = path.with_name(COMPARE_PNG)
    attachments = [("Alignment by layer, before and after tuning", str(plot))] if plot.is_file() else []
    return "\n".join(lines) + "\n", attachments


def alignment_card_section(folder_or_json: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """The comparison section when ``folder_or_json`` holds an ``alignment_compare.json``, else the one-model one."""
    from coit_hf.analysis.compare import COMPARE_JSON

    path = Path(folder_or_json)
    if path.name == COMPARE_JSON or (path / COMPARE_JSON).is_file():
        return comparison_card_section(path)
    return card_section(path)
