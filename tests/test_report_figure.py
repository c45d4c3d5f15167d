"""`coit-hf report` figure: grouped bars with values, all-zero metrics folded into a note, relative-gain panel."""

from __future__ import annotations

from coit_hf.analysis.plotting import pyplot
from coit_hf.evaluation.report import build_report, chart_groups, report_figure, write_report
from coit_hf.evaluation.runner import write_results


def _results(label: str, scores: dict[str, dict[str, float]]) -> dict:
    return {"model": label, "prompt_format": "paper", "max_samples": None, "metadata": {"label": label},
            "versions": {}, "tasks": scores, "notes": []}


def _report(tmp_path):
    base = write_results(_results("alpaca-en", {
        "coit_xquad:zh": {"substring": 20.0, "exact_match": 0.0, "n": 10},
        "coit_xquad:hi": {"substring": 10.0, "exact_match": 0.0, "n": 10},
    }), tmp_path / "base")
    tuned = write_results(_results("x-model", {
        "coit_xquad:zh": {"substring": 30.0, "exact_match": 0.0, "n": 10},
        "coit_xquad:hi": {"substring": 12.5, "exact_match": 0.0, "n": 10},
    }), tmp_path / "x")
    return build_report([tuned], baseline=base)


def test_figure_draws_values_folds_zero_metrics_and_plots_the_relative_gain(tmp_path):
    report = _report(tmp_path)
    groups, all_zero = chart_groups(report)
    assert groups == [("xquad/substring", "hi"), ("xquad/substring", "zh")] and all_zero == ["xquad/exact_match"]
    fig = report_figure(report)
    bars, gain = fig.axes
    assert {"10.0", "12.5", "20.0", "30.0"} <= {t.get_text() for t in bars.texts}  # one value on each bar
    assert any("0 for every run (not drawn): xquad/exact_match" in t.get_text() for t in bars.texts)
    # relative gain of substring: mean((30-20)/20, (12.5-10)/10) = mean(50%, 25%) = +37.5%
    assert [t.get_text() for t in gain.texts] == ["+37.5%"]
    assert "Relative gain over alpaca-en" in gain.get_title()
    pyplot().close(fig)


def test_markdown_embeds_the_figure(tmp_path):
    paths = write_report(_report(tmp_path), tmp_path / "out")
    assert "![Scores and relative gain](report.png)" in paths["markdown"].read_text(encoding="utf-8")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
