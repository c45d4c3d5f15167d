"""Smoke runs of the benchmark scripts (``--quick``): each runs end to end and ends with its JSON result line.

Timings are never checked (CI machines differ); the result's shape and its internal consistency are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
REQUIRED = ("benchmark", "baseline", "coit_hf", "ratio", "unit")

pytestmark = pytest.mark.slow


def run_quick(script: str, *extra: str, timeout: int = 240) -> dict:
    """Run ``benchmarks/<script> --quick`` in a fresh interpreter; return its last stdout line parsed as JSON."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", *extra], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr[-3000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"{script} printed nothing"
    result = json.loads(lines[-1])
    for key in REQUIRED:
        assert key in result, f"{script}: key {key!r} missing from {sorted(result)}"
    assert result["benchmark"] == script.removesuffix(".py")
    assert result["baseline"] > 0 and result["coit_hf"] > 0
    assert result["ratio"] == pytest.approx(result["coit_hf"] / result["baseline"], rel=1e-2)
    return result


def test_corpus_build_quick(tmp_path):
    result = run_quick("corpus_build.py", "--workdir", str(tmp_path))
    assert result["unit"] == "pairs/s"
    assert result["same_rows"] is True  # both pipelines wrote the same rows
    run = result["runs"][0]
    assert run["baseline"]["kept"] == run["coit_hf"]["kept"] > 0
    assert result["peak_rss_mb"]["coit_hf"]["2000"] > 0


def test_gpu_mfu_quick():
    result = run_quick("gpu_mfu.py")
    assert result["unit"] == "tokens/s"
    assert result["details"]["coit_hf"]["padding_fraction"] == 0.0
    assert 0.0 < result["details"]["baseline"]["padding_fraction"] < 1.0


def test_train_throughput_quick(tmp_path):
    result = run_quick("train_throughput.py", "--workdir", str(tmp_path))
    assert result["unit"] == "supervised tokens/s"
    base, ours = result["details"]["baseline"], result["details"]["coit_hf"]
    assert base["padding_fraction"] > ours["padding_fraction"]
    # both sides saw the same supervised tokens (up to tokenisation at the prompt/response boundary)
    assert ours["supervised_tokens"] == pytest.approx(base["supervised_tokens"], rel=0.02)
    assert base["heldout_loss"] > 0 and ours["heldout_loss"] > 0


def test_eval_throughput_quick(tmp_path):
    result = run_quick("eval_throughput.py", "--workdir", str(tmp_path))
    assert result["unit"] == "samples/s"
    assert 0.0 <= result["identical_share"] <= 1.0
    assert result["samples"] > 0


def test_gpu_smoke_script_on_cpu(tmp_path):
    """benchmarks/gpu_smoke.sh in CPU mode: ZeRO-3 and DDP with packing train 3 finite steps and save weights;
    QLoRA says why it was skipped (no CUDA); the summary table lists each run."""
    pytest.importorskip("deepspeed")
    proc = subprocess.run(["bash", str(BENCHMARKS / "gpu_smoke.sh"), "--cpu", "--only", "zero3,ddp-pack,qlora-merge",
                           "--work", str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "PYTHON": sys.executable, "RUN_TIMEOUT": "400"}, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["run"]: r for r in map(json.loads, (tmp_path / "summary.jsonl").read_text().splitlines())}
    assert set(rows) == {"zero3", "ddp-pack", "qlora-merge"}
    for name in ("zero3", "ddp-pack"):
        run = rows[name]
        assert run["ok"] is True and len(run["losses"]) == 3 and run["tokens_per_s"] > 0
        assert "model.safetensors" in run["saved"] and "training_args.bin" not in run["saved"]
    assert "CUDA" in rows["qlora-merge"]["skipped"]
    assert "zero3        True" in proc.stdout and "qlora-merge  skip" in proc.stdout
