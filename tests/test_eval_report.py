"""`coit-hf report`: tables, averages and the paper's relative gain on a worked example; results loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coit_hf.cli import main
from coit_hf.errors import InputError
from coit_hf.evaluation.report import build_report, relative_gain, report_markdown
from coit_hf.evaluation.results import load_results
from coit_hf.evaluation.runner import write_results


def _results(model: str, scores: dict[str, dict[str, float]]) -> dict:
    return {"model": model, "prompt_format": "paper", "max_samples": None, "metadata": {}, "versions": {},
            "tasks": scores, "notes": []}


def test_relative_gain_worked_example():
    # zh: (30-20)/20 = +50%; hi: (15-20)/20 = -25%; mean over languages = +12.5%
    assert relative_gain({"zh": 30, "hi": 15}, {"zh": 20, "hi": 20}) == pytest.approx(12.5)
    # ar: (12-4)/4 = +200% -> mean(50, -25, 200) = 75%, while averages 19 vs 14.67 would give 29.5%
    assert relative_gain({"zh": 30, "hi": 15, "ar": 12}, {"zh": 20, "hi": 20, "ar": 4}) == pytest.approx(75.0)
    assert relative_gain({"zh": 30}, {"zh": 0}) is None  # a zero baseline has no relative gain


def test_report_tables_files_and_cli(tmp_path, capsys):
    base = write_results(_results("alpaca-en", {
        "coit_xquad:zh": {"substring": 20.0, "f1": 10.0, "n": 100},
        "coit_xquad:hi": {"substring": 20.0, "f1": 10.0, "n": 100},
        "coit_xquad:ar": {"substring": 4.0, "f1": 2.0, "n": 100},
        "coit_flores101:en-zh": {"chrf++": 20.0, "bleu": 5.0, "n": 80},
    }), tmp_path / "base")
    x = write_results(_results("/ckpt/x-zh", {
        "coit_xquad:zh": {"substring": 30.0, "f1": 12.0, "n": 100},
        "coit_xquad:hi": {"substring": 15.0, "f1": 10.0, "n": 100},
        "coit_xquad:ar": {"substring": 12.0, "f1": 3.0, "n": 100},
        "coit_flores101:en-zh": {"chrf++": 25.0, "bleu": 6.0, "n": 80},
    }), tmp_path / "x")
    report = build_report([x], baseline=base)
    table = report["tables"]["xquad/substring"]
    assert table["languages"]["ar"] == {"alpaca-en": 4.0, "x-zh": 12.0}
    assert table["averages"]["x-zh"] == pytest.approx(19.0)
    assert table["relative_gain"]["x-zh"] == pytest.approx(75.0)
    assert report["tables"]["flores101:en-X/chrf++"]["relative_gain"]["x-zh"] == pytest.approx(25.0)
    assert "| **relative gain** |  | 75.00% |" in report_markdown(report)

    assert main(["report", str(x.parent), "--baseline", str(base), "--output-dir", str(tmp_path / "rep")]) == 0
    written = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert written["tables"]["xquad/substring"]["relative_gain"]["x-zh"] == pytest.approx(75.0)
    assert (tmp_path / "rep" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## xquad/substring" in (tmp_path / "rep" / "report.md").read_text()
    assert "75.00%" in capsys.readouterr().out


def test_load_results_errors_name_file_and_field(tmp_path):
    path = tmp_path / "coit_results.json"
    path.write_text(json.dumps({"model": "m", "prompt_format": "paper", "tasks": {"coit_xquad:zh": {"f1": "high"}}}))
    with pytest.raises(InputError, match=r"tasks\.coit_xquad:zh\.f1") as info:
        load_results(tmp_path)
    assert str(path) in str(info.value)
    path.write_text(json.dumps({"model": "m", "tasks": {}}))
    with pytest.raises(InputError, match="prompt_format"):
        load_results(path)
    with pytest.raises(InputError, match="not found"):
        load_results(tmp_path / "nowhere")
    assert main(["report", str(tmp_path / "nowhere")]) == 2


def test_write_results_is_atomic_and_roundtrips(tmp_path):
    data = _results("m", {"coit_xquad:zh": {"substring": 1.0, "n": 3}})
    path = write_results(data, tmp_path)
    assert load_results(path)["tasks"] == data["tasks"]
    assert [p.name for p in Path(tmp_path).iterdir()] == ["coit_results.json"]
