"""`coit-hf demo --tiny`: every stage of the main job, end to end, with the tiny model (part of `make test`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_tiny_runs_every_stage_and_leaves_report_card_and_repos(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "COIT_HF_CACHE": str(tmp_path / "cache")}
    completed = subprocess.run(
        [sys.executable, "-m", "coit_hf.cli", "demo", "--tiny", "--output-dir", str(out), "--max-steps", "6"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for stage in range(1, 8):
        assert f"[{stage}/7]" in completed.stdout

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = {(task, metric): (before, after) for task, metric, before, after in summary["rows"]}
    assert ("coit_flores101:en-zh", "chrf++") in rows and ("coit_xquad:zh", "f1") in rows
    nll_before, nll_after = rows[("reference translations", "NLL/token (lower is better)")]
    # Computed, not fixed: LoRA steps change the model, so the reference NLL moves.
    assert nll_before > 0 and nll_after > 0 and nll_before != nll_after
    assert set(summary["options"]["timings"]) == {"model", "corpus", "eval_before", "train", "eval_after", "report",
                                                  "publish"}

    dataset_repo = Path(summary["published"]["dataset"])
    model_repo = Path(summary["published"]["model"])
    assert dataset_repo == out / "hub" / "datasets" / "coit-demo" / "coit-zh"
    from coit_hf.data.loading import load_corpus

    translation = load_corpus(dataset_repo, "translation", split="train")
    assert len(translation) > 1000 and set(translation.unique("lang")) == {"zh"}
    report = json.loads((dataset_repo / "build_report.json").read_text(encoding="utf-8"))
    assert report  # the quality/decontamination report travels with the corpus

    assert (model_repo / "adapter_model.safetensors").is_file()
    card = (model_repo / "README.md").read_text(encoding="utf-8")
    assert "base_model: coit-hf/tiny-llama" in card
    assert "coit_flores101:en-zh" in card and "images/alignment_compare.png" in card
    assert "before and after tuning" in card and "gained most in gap" in card
    assert (out / "report" / "report.png").is_file() and (out / "alignment" / "alignment_compare.png").is_file()
    assert "![Scores and relative gain](report.png)" in (out / "report" / "report.md").read_text(encoding="utf-8")
    compare = json.loads((out / "alignment" / "alignment_compare.json").read_text(encoding="utf-8"))
    assert list(compare["models"]) == ["coit-hf/tiny-llama (base)", "coit-demo/x-tiny-zh-lora (CoIT)"]
    assert "layers where coit-demo/x-tiny-zh-lora (CoIT) gained most" in completed.stdout

    # The Hub client parses the card's model-index: the XQuAD slice names its Hub dataset, the local UDHR set is
    # left out rather than given an invented id; datasets name the corpus by its repo id.
    from huggingface_hub import ModelCard

    parsed = ModelCard.load(model_repo / "README.md")
    assert parsed.data.datasets == ["coit-demo/coit-zh"]
    assert {(r.task_type, r.dataset_type, r.dataset_config, r.dataset_split) for r in parsed.data.eval_results} == {
        ("question-answering", "google/xquad", "xquad.zh", "validation")}
    assert {r.metric_type for r in parsed.data.eval_results} >= {"exact_match", "f1"}
    assert {r.dataset_name for r in parsed.data.eval_results} == {"XQuAD xquad.zh (validation, 12 of 1190 rows)"}
    assert "Not in the `model-index` metadata: coit_flores101:en-zh (" in parsed.text  # local UDHR set
    assert 'load_dataset("coit-demo/coit-zh", "translation")' in (dataset_repo / "README.md").read_text("utf-8")

    # No machine path in any published file: the two repos, the report, the alignment and the results files.
    published = [p for root in ("hub", "report", "alignment") for p in (out / root).rglob("*") if p.is_file()]
    published += sorted((out / "eval").glob("*/coit_results.json"))
    assert len(published) > 20
    machine_paths = {str(tmp_path).encode(), (tempfile.gettempdir().rstrip("/") + "/").encode(),
                     (str(Path.home()).rstrip("/") + "/").encode()}
    leaks = [f"{p.relative_to(out)}: {m.decode()}" for p in published for m in machine_paths if m in p.read_bytes()]
    assert not leaks, leaks
