"""Reports over evaluation results: per-language tables (JSON, Markdown, PNG) with averages and relative gains.

Relative gain follows the paper: for a run A against a baseline B on one benchmark/metric, the mean over the
languages both cover (with B > 0) of (A - B) / B, in percent.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from coit_hf.atomic import normal_permissions, require_output_dir
from coit_hf.errors import InputError
from coit_hf.evaluation.results import load_results, split_task_name
from coit_hf.jsonfile import read_json

# Metrics shown per benchmark family, in order; the first present in the results is used for each.
QA_METRICS = ("substring", "exact_match", "f1", "fidelity")
MT_METRICS = ("spbleu", "bleu", "chrf++", "fidelity")


def relative_gain(scores: dict[str, float], baseline: dict[str, float]) -> float | None:
    """Mean over shared languages (baseline > 0) of (A - B) / B, in percent; None when no language qualifies."""
    ratios = [(scores[k] - baseline[k]) / baseline[k] for k in scores
              if k in baseline and scores[k] is not None and baseline[k] not in (None, 0)]
    return 100.0 * sum(ratios) / len(ratios) if ratios else None


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else None


def _benchmark_and_lang(task: str) -> tuple[str, str]:
    family, langs = split_task_name(task)
    if family == "flores101" and "-" in langs:
        src, tgt = langs.split("-", 1)
        return ("flores101:en-X", tgt) if src == "en" else ("flores101:X-en", src)
    return family, langs


def run_label(results: dict[str, Any], path: str) -> str:
    """Label of a run: ``metadata.label``, else the model folder/repo name."""
    label = results.get("metadata", {}).get("label")
    return str(label) if label else Path(str(results.get("model") or path).rstrip("/")).name or path


def build_report(runs: list[str | os.PathLike[str]], baseline: str | os.PathLike[str] | None = None,
                 comparisons: list[str | os.PathLike[str]] | None = None) -> dict[str, Any]:
    """Collect runs (and an optional baseline) into tables: ``tables[benchmark/metric] = {languages: {lang: {label:
    score}}, averages: {label: mean}, relative_gain: {label: percent vs baseline}}``; ``comparisons`` are
    ``coit-hf compare`` outputs (``compare.json`` or its folder) shown as pairwise win-rate sections."""
    if not runs:
        raise InputError("no results given")
    loaded = [(run_label(r := load_results(p), str(p)), r) for p in runs]
    base = None
    if baseline is not None:
        b = load_results(baseline)
        base = (run_label(b, str(baseline)) + (" (baseline)" if any(run_label(b, "") == lab for lab, _ in loaded) else ""), b)
    everything = ([base] if base else []) + loaded
    tables: dict[str, dict[str, Any]] = {}
    for label, results in everything:
        for task, scores in results["tasks"].items():
            bench, lang = _benchmark_and_lang(task)
            for metric in (QA_METRICS if bench in ("xquad", "mlqa") else MT_METRICS):
                if scores.get(metric) is None:
                    continue
                table = tables.setdefault(f"{bench}/{metric}", {"languages": {}})
                table["languages"].setdefault(lang, {})[label] = float(scores[metric])
    labels = [label for label, _ in everything]
    for table in tables.values():
        langs = table["languages"]
        table["averages"] = {lab: _mean([langs[x].get(lab) for x in langs]) for lab in labels}
        if base:
            b_scores = {x: v[base[0]] for x, v in langs.items() if base[0] in v}
            table["relative_gain"] = {
                lab: relative_gain({x: v[lab] for x, v in langs.items() if lab in v}, b_scores) for lab, _ in loaded
            }
    return {
        "runs": [{"label": lab, "model": r["model"], "prompt_format": r["prompt_format"], "max_samples": r["max_samples"],
                  "metadata": r["metadata"]} for lab, r in loaded],
        "baseline": base[0] if base else None,
        "labels": labels,
        "tables": dict(sorted(tables.items())),
        "notes": sorted({n for _, r in everything for n in r.get("notes", [])}),
        "comparisons": [_load_comparison(c) for c in comparisons or []],
    }


def _load_comparison(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    p = p / "compare.json" if p.is_dir() else p
    data = read_json(p, missing="comparison not found (run `coit-hf compare --output-dir DIR` first)")
    if not isinstance(data, dict) or not isinstance(data.get("languages"), dict):
        raise InputError("not a compare.json (needs a `languages` mapping)", path=p, field="languages")
    return data


def _fmt(value: float | None, suffix: str = "") -> str:
    return "–" if value is None else f"{value:.2f}{suffix}"


def report_markdown(report: dict[str, Any]) -> str:
    """Markdown: one table per benchmark/metric (rows = languages, columns = runs), averages and relative gain."""
    labels = report["labels"]
    lines = ["# Evaluation report", ""]
    if report["baseline"]:
        lines += [f"Relative gain = mean over languages of (A − B) / B against baseline **{report['baseline']}**.", ""]
    for name, table in report["tables"].items():
        lines += [f"## {name}", "", "| language | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for lang in sorted(table["languages"]):
            row = table["languages"][lang]
            lines.append(f"| {lang} | " + " | ".join(_fmt(row.get(lab)) for lab in labels) + " |")
        lines.append("| **average** | " + " | ".join(_fmt(table["averages"].get(lab)) for lab in labels) + " |")
        if "relative_gain" in table:
            gains = table["relative_gain"]
            lines.append("| **relative gain** | " + " | ".join(
                "" if lab == report["baseline"] else _fmt(gains.get(lab), "%") for lab in labels) + " |")
        lines.append("")
    if report.get("comparisons"):
        from coit_hf.evaluation.compare import card_section

        lines += [card_section(c, heading_level=2) for c in report["comparisons"]]
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    return "\n".join(lines)


def report_chart(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """PNG: grouped bars per language, one panel per benchmark/metric (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = report["tables"]
    labels = report["labels"]
    n = max(len(tables), 1)
    fig, axes = plt.subplots(n, 1, figsize=(max(6, 1.2 * max((len(t["languages"]) for t in tables.values()), default=1)
                                              * max(len(labels), 1)), 3 * n), squeeze=False)
    width = 0.8 / max(len(labels), 1)
    for ax, (name, table) in zip(axes[:, 0], tables.items(), strict=False):
        langs = sorted(table["languages"])
        for i, lab in enumerate(labels):
            values = [table["languages"][x].get(lab) or 0.0 for x in langs]
            ax.bar([j + i * width for j in range(len(langs))], values, width, label=lab)
        ax.set_xticks([j + width * (len(labels) - 1) / 2 for j in range(len(langs))], langs)
        ax.set_title(name)
        ax.set_ylabel("score")
        ax.legend(fontsize="small")
    fig.tight_layout()
    _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def _atomic_write(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        normal_permissions(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_report(report: dict[str, Any], output_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.png`` into ``output_dir``; return their paths."""
    out = require_output_dir(output_dir)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "png": out / "report.png"}
    text = json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n"  # inputs were checked finite
    _atomic_write(paths["json"], lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    md = report_markdown(report)
    _atomic_write(paths["markdown"], lambda tmp: Path(tmp).write_text(md, encoding="utf-8"))
    report_chart(report, paths["png"])
    return paths
