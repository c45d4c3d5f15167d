"""Reports over evaluation results: per-language tables (JSON, Markdown, PNG) with averages and relative gains.

Relative gain follows the paper: for a run A against a baseline B on one benchmark/metric, the mean over the
languages both cover (with B > 0) of (A - B) / B, in percent.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Any

from coit_hf.errors import InputError
from coit_hf.evaluation.compare.output import card_section
from coit_hf.evaluation.results import load_results, run_label, split_task_name
from coit_hf.files import read_json, require_output_dir, write_json, write_png, write_text
from coit_hf.published import public_name

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
        "runs": [{"label": lab, "model": public_name(r["model"]), "prompt_format": r["prompt_format"], "max_samples": r["max_samples"],
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


def report_markdown(report: dict[str, Any], embed_figure: str | None = None) -> str:
    """Markdown: one table per benchmark/metric (rows = languages, columns = runs), averages and relative gain;
    ``embed_figure`` (a path relative to the Markdown file) is shown at the top."""
    labels = report["labels"]
    lines = ["# Evaluation report", ""]
    if embed_figure:
        lines += [f"![Scores and relative gain]({embed_figure})", ""]
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

        lines += [card_section(c, heading_level=2) for c in report["comparisons"]]
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    return "\n".join(lines)


def _score(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def chart_groups(report: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """((benchmark/metric, language) bar groups with a non-zero score, benchmark/metric tables where every run
    scored 0 in every language) of a report."""
    groups, all_zero = [], []
    for name, table in report["tables"].items():
        scores = [_score(v) for row in table["languages"].values() for v in row.values()]
        if scores and all(v in (None, 0.0) for v in scores):
            all_zero.append(name)
            continue
        groups.extend((name, lang) for lang in sorted(table["languages"]))
    return groups, all_zero


def report_chart(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write :func:`report_figure` as a PNG."""
    from coit_hf.analysis.plotting import pyplot

    fig = report_figure(report)
    write_png(path, fig, dpi=110, bbox_inches="tight")
    pyplot().close(fig)


def report_figure(report: dict[str, Any]) -> Any:
    """One matplotlib figure. Left, grouped bars (one group per benchmark/metric and language, one bar per run, the score
    written on each bar); right, the relative gain over the baseline per benchmark/metric (the paper's form).
    Metrics on which every run scored 0 are listed in a note under the bars instead of drawn."""
    from coit_hf.analysis.plotting import pyplot

    plt = pyplot()
    labels = report["labels"]
    groups, all_zero = chart_groups(report)
    gains = {name: table["relative_gain"] for name, table in report["tables"].items()
             if "relative_gain" in table and name not in all_zero}
    runs = [lab for lab in labels if lab != report["baseline"]]
    width_in = min(16.0, max(6.0, 0.3 * len(groups) * max(len(labels), 1) + 2))
    fig, (ax, gain_ax) = plt.subplots(1, 2, figsize=(width_in + 5, 5.2), gridspec_kw={"width_ratios": [width_in, 5]},
                                      squeeze=True)
    bar = 0.8 / max(len(labels), 1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    dense = len(groups) * len(labels) > 24  # value labels turn vertical when horizontal ones would overlap
    for i, lab in enumerate(labels):
        xs = [j + (i - (len(labels) - 1) / 2) * bar for j in range(len(groups))]
        values = [_score(report["tables"][name]["languages"][lang].get(lab)) for name, lang in groups]
        bars = ax.bar(xs, [v or 0.0 for v in values], bar, label=lab, color=colors[i % len(colors)])
        ax.bar_label(bars, labels=["–" if v is None else f"{v:.1f}" for v in values], fontsize=7, padding=2,
                     rotation=90 if dense else 0)
    ax.set_xticks(range(len(groups)), [lang for _, lang in groups], fontsize=8)
    names = list(dict.fromkeys(name for name, _ in groups))
    for name in names:  # benchmark/metric under its languages, with a separator between metrics
        where = [j for j, (n, _) in enumerate(groups) if n == name]
        # benchmark and metric on two lines: one-group labels like "flores101:en-X/bleu" overlap their neighbours
        ax.annotate(name.replace("/", "\n"), ((where[0] + where[-1]) / 2, 0), xycoords=("data", "axes fraction"), xytext=(0, -20),
                    textcoords="offset points", ha="center", va="top", fontsize=8, fontweight="bold")
        if where[0] > 0:
            ax.axvline(where[0] - 0.5, color="0.8", linewidth=0.8)
    ax.set_ylabel("score (0–100)")
    ax.set_title("Scores by benchmark/metric and language")
    if groups:
        ax.legend(fontsize="small", loc="upper left", ncols=len(labels))
        ax.set_ylim(0, max(100.0, ax.get_ylim()[1]) * 1.12)
    else:
        ax.text(0.5, 0.5, "every run scored 0 on every metric", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    if all_zero:
        note = textwrap.fill("0 for every run (not drawn): " + ", ".join(all_zero), width=int(12 * width_in))
        ax.annotate(note, (0, 0), xycoords="axes fraction", xytext=(0, -38 if groups else -8),
                    textcoords="offset points", fontsize=8, va="top")
    _gain_panel(gain_ax, gains, runs, report["baseline"], colors[1:] or colors)
    fig.tight_layout()
    return fig


def _gain_panel(ax: Any, gains: dict[str, dict[str, float | None]], runs: list[str], baseline: str | None,
                colors: list[str]) -> None:
    """Horizontal bars: relative gain (%) of each run over the baseline per benchmark/metric, values written."""
    ax.set_title(f"Relative gain over {baseline}" if baseline else "Relative gain", fontsize=10)
    if not baseline or not any(v is not None for g in gains.values() for v in g.values()):
        why = ("no baseline given" if not baseline else "no metric with a score above 0" if not gains
               else "baseline scored 0\non every drawn metric")
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    names = list(gains)
    height = 0.8 / max(len(runs), 1)
    for i, lab in enumerate(runs):
        ys = [j + (i - (len(runs) - 1) / 2) * height for j in range(len(names))]
        values = [gains[name].get(lab) for name in names]
        bars = ax.barh(ys, [v or 0.0 for v in values], height, label=lab, color=colors[i % len(colors)])
        ax.bar_label(bars, labels=["n/a (baseline 0)" if v is None else f"{v:+.1f}%" for v in values],
                     fontsize=7, padding=2)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("(A − B) / B, mean over languages, %")
    ax.margins(x=0.35)
    if len(runs) > 1:
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=len(runs))


def write_report(report: dict[str, Any], output_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.png`` into ``output_dir``; return their paths."""
    out = require_output_dir(output_dir)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "png": out / "report.png"}
    write_json(paths["json"], report)  # inputs were checked finite
    write_text(paths["markdown"], report_markdown(report, embed_figure=paths["png"].name))
    report_chart(report, paths["png"])
    return paths
