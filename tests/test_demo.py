"""`coit-hf demo --tiny`: every stage of the main job, end to end, with the tiny model (part of `make test`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    assert "coit_flores101:en-zh" in card and "images/alignment.png" in card
    assert (out / "report" / "report.png").is_file() and (out / "alignment" / "alignment.png").is_file()
    assert (out / "report" / "report.md").read_text(encoding="utf-8").strip()
