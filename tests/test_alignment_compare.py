"""`coit-hf align --model A --model B` / `--compare`: several models on the same layer axes, the layers that gained."""

from __future__ import annotations

import json

import pytest

from coit_hf.analysis.card import comparison_card_section
from coit_hf.analysis.compare import compare_alignments, load_alignment
from coit_hf.cli import main
from coit_hf.errors import InputError


def _result(gap: list[float], retrieval: list[float], model: str = "m") -> dict:
    return {"model": model, "languages": ["en", "zh"], "n_sentences": 10, "layers": list(range(len(gap))),
            "chance_retrieval": 0.1, "pairs": {},
            "summary": {"mean_gap": gap, "mean_retrieval": retrieval,
                        "best_layer_by_gap": max(range(len(gap)), key=gap.__getitem__),
                        "best_layer_by_retrieval": max(range(len(retrieval)), key=retrieval.__getitem__)}}


def test_comparison_ranks_the_layers_that_gained_most():
    base = _result([0.01, 0.05, 0.04, 0.02], [0.1, 0.3, 0.2, 0.1])
    tuned = _result([0.01, 0.09, 0.10, 0.03], [0.1, 0.5, 0.6, 0.1])
    comparison = compare_alignments({"base": base, "tuned": tuned})
    change = comparison["change_vs_reference"]["tuned"]
    assert change["gap"] == pytest.approx([0.0, 0.04, 0.06, 0.01])
    assert change["retrieval"] == pytest.approx([0.0, 0.2, 0.4, 0.0])
    assert change["layers_gained_most"] == [2, 1, 3]
    with pytest.raises(InputError, match="same depth"):
        compare_alignments({"base": base, "short": _result([0.1], [0.1])})
    with pytest.raises(InputError, match="different sentences"):
        compare_alignments({"base": base, "other": {**tuned, "n_sentences": 11}})
    with pytest.raises(InputError, match="at least two"):
        compare_alignments({"base": base})


def test_compare_cli_writes_numbers_figure_and_card_section(tmp_path, capsys):
    for name, gap, retr in (("base", [0.01, 0.05, 0.02], [0.1, 0.3, 0.1]), ("tuned", [0.02, 0.15, 0.03], [0.1, 0.7, 0.2])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "alignment.json").write_text(json.dumps(_result(gap, retr, name)))
    out = tmp_path / "cmp"
    assert main(["align", "--compare", str(tmp_path / "base"), str(tmp_path / "tuned"), "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "layers where tuned gained most over base: 1 (+0.1000 gap, +0.400 retrieval)" in printed
    comparison = json.loads((out / "alignment_compare.json").read_text())
    assert list(comparison["models"]) == ["base", "tuned"] and comparison["reference"] == "base"
    assert (out / "alignment_compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown, attachments = comparison_card_section(out)
    assert "| tuned | 1 | 0.1500 | 0.700 |" in markdown and "Layers where tuned gained most" in markdown
    assert attachments == [("Alignment by layer, before and after tuning", str(out / "alignment_compare.png"))]
    assert main(["align", "--compare", str(tmp_path / "base"), str(tmp_path / "tuned"), "--label", "same",
                 "--label", "same", "--output-dir", str(out)]) == 2
    with pytest.raises(InputError, match="not an alignment result"):
        (tmp_path / "bad.json").write_text("{}")
        load_alignment(tmp_path / "bad.json")


@pytest.mark.slow
def test_align_two_models_on_the_same_sentences(tiny_model_dir, shared_benchmarks, tmp_path, capsys):
    udhr = shared_benchmarks / "udhr" / "udhr_7way.jsonl"
    out = tmp_path / "align"
    assert main(["align", "--model", str(tiny_model_dir), "--model", str(tiny_model_dir), "--label", "a",
                 "--label", "b", "--jsonl", str(udhr), "--langs", "en,zh", "--max-sentences", "12",
                 "--output-dir", str(out)]) == 0
    comparison = json.loads((out / "alignment_compare.json").read_text())
    assert (out / "a" / "alignment.json").is_file() and (out / "b" / "alignment.json").is_file()
    # the same model twice: curves identical, no layer gained
    assert comparison["models"]["a"]["mean_gap"] == pytest.approx(comparison["models"]["b"]["mean_gap"])
    assert max(abs(x) for x in comparison["change_vs_reference"]["b"]["gap"]) < 1e-6
    assert str(tmp_path) not in (out / "a" / "alignment.json").read_text()
