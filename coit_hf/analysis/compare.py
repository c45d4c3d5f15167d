"""Alignment of several models on the same sentences, layer by layer (the paper's before/after-tuning figure).

Input: ``alignment.json`` results of :func:`coit_hf.analysis.alignment.compute_alignment`, one per model, in order
(the first is the reference, e.g. the base model). Output: per model the mean cosine gap and mean two-way top-1
retrieval per layer, the change of each later model against the first, and the layers that gained most.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coit_hf.errors import InputError
from coit_hf.files import read_json, write_json

COMPARE_JSON = "alignment_compare.json"
COMPARE_PNG = "alignment_compare.png"
TOP_LAYERS = 3


def load_alignment(path: str | os.PathLike[str]) -> dict[str, Any]:
    """An ``alignment.json`` (or the folder holding one), checked for the fields a comparison reads."""
    path = Path(path)
    path = path / "alignment.json" if path.is_dir() else path
    data = read_json(path, missing="alignment result not found (run `coit-hf align --output-dir DIR` first)")
    summary = data.get("summary") if isinstance(data, dict) else None
    if not isinstance(summary, dict) or not isinstance(summary.get("mean_gap"), list) \
            or not isinstance(summary.get("mean_retrieval"), list):
        raise InputError("not an alignment result (needs summary.mean_gap and summary.mean_retrieval)", path=path)
    return data


def compare_alignments(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Compare alignment results keyed by model label (first = reference); returns the JSON-serialisable comparison.

    All results must cover the same sentences count and languages and have the same number of layers.
    """
    if len(results) < 2:
        raise InputError(f"a comparison needs at least two models, got {len(results)}")
    labels = list(results)
    ref = results[labels[0]]
    for label in labels[1:]:
        other = results[label]
        if len(other["summary"]["mean_gap"]) != len(ref["summary"]["mean_gap"]):
            raise InputError(f"{label!r} has {len(other['summary']['mean_gap'])} layers, {labels[0]!r} has "
                             f"{len(ref['summary']['mean_gap'])}: layer-wise comparison needs the same depth")
        if (other.get("languages"), other.get("n_sentences")) != (ref.get("languages"), ref.get("n_sentences")):
            raise InputError(f"{label!r} and {labels[0]!r} were measured on different sentences "
                             f"({other.get('languages')} × {other.get('n_sentences')} vs "
                             f"{ref.get('languages')} × {ref.get('n_sentences')})")
    models = {label: {"mean_gap": list(r["summary"]["mean_gap"]), "mean_retrieval": list(r["summary"]["mean_retrieval"]),
                      "best_layer_by_gap": r["summary"].get("best_layer_by_gap"), "model": r.get("model")}
              for label, r in results.items()}
    changes = {}
    for label in labels[1:]:
        gap = [b - a for a, b in zip(models[labels[0]]["mean_gap"], models[label]["mean_gap"], strict=True)]
        retr = [b - a for a, b in zip(models[labels[0]]["mean_retrieval"], models[label]["mean_retrieval"],
                                      strict=True)]
        ranked = sorted(range(len(gap)), key=lambda i: gap[i], reverse=True)
        gained = [i for i in ranked if gap[i] > 0][:TOP_LAYERS]  # a layer that lost alignment never "gained most"
        changes[label] = {"gap": gap, "retrieval": retr, "layers_gained_most": gained}
    return {
        "reference": labels[0],
        "languages": ref.get("languages"),
        "n_sentences": ref.get("n_sentences"),
        "layers": list(range(len(ref["summary"]["mean_gap"]))),
        "chance_retrieval": ref.get("chance_retrieval"),
        "models": models,
        "change_vs_reference": changes,
    }


def plot_comparison(comparison: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Three panels on shared layer axes: mean cosine gap and mean top-1 retrieval (one line per model), and the
    change in gap of each later model against the first per layer (bars, the layers that gained most marked); PNG."""
    from matplotlib.ticker import MaxNLocator

    from coit_hf.analysis.plotting import pyplot, save_png

    plt = pyplot()
    layers = comparison["layers"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), dpi=110)
    for label, model in comparison["models"].items():
        axes[0].plot(layers, model["mean_gap"], marker="o", markersize=3, label=label)
        axes[1].plot(layers, model["mean_retrieval"], marker="o", markersize=3, label=label)
    chance = comparison.get("chance_retrieval")
    if chance is not None:
        axes[1].axhline(chance, color="0.5", linestyle="--", linewidth=0.8, label=f"chance ({chance:.3f})")
    axes[0].axhline(0, color="0.5", linewidth=0.6)
    axes[0].set_title("cosine gap: translation pairs − random pairs", fontsize=10)
    axes[1].set_title("top-1 retrieval of the translation (both directions)", fontsize=10)
    axes[1].set_ylim(-0.02, 1.02)
    changes = comparison["change_vs_reference"]
    width = 0.8 / max(len(changes), 1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, change) in enumerate(changes.items()):
        xs = [x + (i - (len(changes) - 1) / 2) * width for x in layers]
        bars = axes[2].bar(xs, change["gap"], width, label=label, color=colors[(i + 1) % len(colors)])
        axes[2].bar_label(bars, labels=["▲" if j in change["layers_gained_most"] else "" for j in layers], fontsize=8)
    axes[2].axhline(0, color="black", linewidth=0.8)
    axes[2].set_title(f"change in gap vs {comparison['reference']}\n(▲ = gained most)", fontsize=10)
    for ax in axes:
        ax.set_xlabel("layer (0 = embeddings)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    pairs = " / ".join(comparison.get("languages") or [])
    fig.suptitle(f"Representation alignment by layer ({pairs}, {comparison.get('n_sentences')} parallel sentences)",
                 fontsize=11)
    fig.tight_layout()
    return save_png(fig, path)


def write_comparison(comparison: Mapping[str, Any], output_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``alignment_compare.json`` and ``alignment_compare.png`` into ``output_dir``; returns their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / COMPARE_JSON
    write_json(target, dict(comparison), allow_nan=True)
    return {"json": target, "plot": plot_comparison(comparison, out / COMPARE_PNG)}


def format_comparison(comparison: Mapping[str, Any]) -> str:
    """Per-layer table (gap and retrieval per model, change against the reference) and the layers gained most."""
    labels = list(comparison["models"])
    head = f"{'layer':<7}" + "".join(f"{'gap ' + lab[:12]:>18}{'retr ' + lab[:12]:>18}" for lab in labels)
    lines = [head]
    for layer in comparison["layers"]:
        cells = "".join(f"{m['mean_gap'][layer]:>18.4f}{m['mean_retrieval'][layer]:>18.3f}"
                        for m in comparison["models"].values())
        lines.append(f"{layer:<7}{cells}")
    for label, change in comparison["change_vs_reference"].items():
        best = ", ".join(f"{i} ({change['gap'][i]:+.4f} gap, {change['retrieval'][i]:+.3f} retrieval)"
                         for i in change["layers_gained_most"]) or "none (no layer's gap grew)"
        lines.append(f"layers where {label} gained most over {comparison['reference']}: {best}")
    return "\n".join(lines)
