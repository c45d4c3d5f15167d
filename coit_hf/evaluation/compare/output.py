"""A comparison as Markdown (document, table, model-card section) and its files on disk."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coit_hf.files import read_json, write_json, write_jsonl, write_text

CARD_HEADING = "Multilingual instruction following (pairwise)"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _rate_ci(t: dict[str, Any], outcome: str) -> str:
    low, high = t[f"{outcome}_ci"]
    return f"{_pct(t[f'{outcome}_rate'])} [{low:.1f}, {high:.1f}]"


def comparison_table(report: dict[str, Any]) -> list[str]:
    """Markdown table rows: per language and overall, A's wins/ties/losses, rates with intervals, gate rates."""
    conf = round(100 * report["confidence"])
    lines = [f"| language | prompts | A wins | ties | B wins | A win rate % [{conf}% CI] | B win rate % [{conf}% CI] "
             "| gate rate A % | gate rate B % | judged |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = [*report["languages"].items(), ("**all**", report["overall"])]
    for lang, t in rows:
        lines.append(f"| {lang} | {t['n']} | {t['win']} | {t['tie']} | {t['loss']} | {_rate_ci(t, 'win')} | "
                     f"{_rate_ci(t, 'loss')} | {_pct(t['gate_rate_a'])} | {_pct(t['gate_rate_b'])} | {t['judged']} |")
    return lines


def comparison_markdown(report: dict[str, Any]) -> str:
    """The comparison as a Markdown document."""
    judge = report["judge"]
    lines = [
        "# Pairwise instruction-following comparison", "",
        f"- **A**: {report['a'].get('label')} (`{report['a'].get('model') or report['a']['path']}`)",
        f"- **B**: {report['b'].get('label')} (`{report['b'].get('model') or report['b']['path']}`)",
        f"- **judge**: {judge.get('kind')} `{judge.get('model')}`"
        + (f" at {judge['base_url']}" if judge.get("base_url") else ""),
        f"- **language gate**: {report['gate']['detector']}",
        f"- **rule**: {report['combination']}", "",
        *comparison_table(report), "",
        "Gate rate = share of a run's answers not written in the prompt's language (they lose without judging). "
        f"Unreadable judge replies: {report['overall']['unreadable_replies']} (each counted as a tie for its order).",
        "",
    ]
    if report["notes"]:
        lines += ["## Notes", "", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


def card_section(report: dict[str, Any] | str | os.PathLike[str], heading_level: int = 2) -> str:
    """Markdown for a model card or report: win/tie/loss, win rates and gate rates per language (put the card's
    model as run A).

    ``report`` is a comparison dict or the path of ``compare.json`` (or its folder).
    """
    if not isinstance(report, dict):
        path = Path(report)
        path = path / "compare.json" if path.is_dir() else path
        report = read_json(path, missing="comparison file not found (run `coit-hf compare` first)")
    hashes = "#" * heading_level
    judge = report["judge"]
    return "\n".join([
        f"{hashes} {CARD_HEADING}", "",
        f"Answers of **A** ({report['a'].get('label')}) against **B** ({report['b'].get('label')}) on coit_mieval "
        f"prompts, judged by {judge.get('kind')} `{judge.get('model')}` in both orders; an answer not in the "
        "prompt's language loses before judging (gate rate = share of a run's answers that did).", "",
        *comparison_table(report), "",
    ])


def write_comparison(report: dict[str, Any], records: Sequence[dict[str, Any]],
                     output_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``compare.json``, ``compare.md`` and ``compare_items.jsonl`` (each atomically); return their paths."""
    out = Path(output_dir)
    paths = {"json": out / "compare.json", "markdown": out / "compare.md", "items": out / "compare_items.jsonl"}
    write_json(paths["json"], report, allow_nan=True)
    write_text(paths["markdown"], comparison_markdown(report))
    write_jsonl(paths["items"], records)
    return paths
