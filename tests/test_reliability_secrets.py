"""Secrets: with a token planted in the environment (HF_TOKEN), no file we write (corpus, card, build report,
mixture YAML, training output folder, results JSON, logs) and no captured output, log record or exception text
contains it — also when pushes fail and with --debug tracebacks."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coit_hf.cli import main

pytestmark = pytest.mark.reliability


def files_containing(root: Path, secret: str) -> list[str]:
    """Every file under ``root`` whose bytes hold ``secret`` (also base64/percent-encoded forms are caught by the
    caller planting a plain ASCII token, which stays the same in UTF-8 and JSON)."""
    needle = secret.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _pairs(path: Path) -> Path:
    rows = [{"en": f"The secret garden number {i} is green.", "zh": f"第{i}号秘密花园是绿色的。"} for i in range(30)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_data_commands_never_write_or_print_the_token(tmp_path, hub, capsys, caplog, monkeypatch):
    secret = hub.token
    monkeypatch.setenv("COIT_HF_HUB_RETRY_DELAY", "0.01")
    monkeypatch.setenv("COIT_HF_HUB_RETRIES", "2")
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "coit-zh"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "2",
                 "--pairs", str(_pairs(tmp_path / "p.jsonl")), "--report", str(tmp_path / "report.json")]) == 0
    assert main(["data", "mixture", "translation_en-zh[:5]", "--corpus", str(out), "--write-yaml",
                 str(tmp_path / "mix.yaml")]) == 0
    assert main(["data", "push", str(out), "--repo", hub.repo_id("coit")]) == 0
    # failures: a commit the Hub keeps refusing, then a server error message that echoes the Authorization header
    from hub_server import error

    hub.server.rules.append(lambda r: error(503, "busy") if r.parts[-2:-1] == ["commit"] else None)
    assert main(["data", "push", str(out), "--repo", hub.repo_id("coit2")]) == 2
    assert secret not in caplog.text  # every log record, DEBUG included (httpx request logs too)
    for record in caplog.records:
        assert secret not in str(record.args) and secret not in record.getMessage()
    # a (misbehaving) server that echoes the Authorization header in its error: our message masks it
    # (third-party DEBUG logs of response headers would show it, so only our own output is checked here)
    hub.server.rules[:] = [lambda r: error(400, f"bad header {r.headers.get('authorization')}")]
    assert main(["data", "push", str(out), "--repo", hub.repo_id("coit3")]) == 2
    captured = capsys.readouterr()
    assert "coit2" in captured.err and "coit3" in captured.err and "bad header Bearer ***" in captured.err
    assert secret not in captured.out + captured.err
    assert files_containing(tmp_path, secret) == []
    assert files_containing(hub.server.root / "blobs", secret) == []  # nor anything we uploaded


def test_debug_traceback_of_a_failed_push_has_no_token(tmp_path, hub):
    out = tmp_path / "coit-zh"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "2",
                 "--pairs", str(_pairs(tmp_path / "p.jsonl"))]) == 0
    env = {**hub.env, "COIT_HF_HUB_RETRIES": "1", "HF_TOKEN": hub.token + "x"}  # a wrong token: 401
    proc = subprocess.run([sys.executable, "-m", "coit_hf.cli", "--debug", "data", "push", str(out), "--repo",
                           hub.repo_id("coit")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "401" in proc.stderr
    assert hub.token not in proc.stdout + proc.stderr


ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ENV_TOKEN = "hf_" + "PLANTEDenvironmentTOKEN0123456789"  # fake tokens, split so scanners do not flag them
ARG_TOKEN = "hf_" + "PLANTEDcommandlineTOKEN9876543210"


@pytest.mark.slow
def test_training_output_folder_and_logs_hold_no_token(tmp_path):
    corpus = tmp_path / "coit-zh"
    assert main(["data", "build", "--output", str(corpus), "--no-progress", "--tgt-lang", "zh", "--validation-size",
                 "1", "--pairs", str(FIXTURES / "udhr_sample_7way.jsonl")]) == 0
    from coit_hf.tiny_model import build_tiny_model, collect_texts

    model = build_tiny_model(tmp_path / "tiny", collect_texts([FIXTURES / "udhr_sample_7way.jsonl"]))
    out = tmp_path / "run"
    env = {**os.environ, "HF_TOKEN": ENV_TOKEN, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "recipes" / "sft_coit.py"), "--config",
                           str(ROOT / "recipes" / "demo" / "tiny.yaml"), "--model_name_or_path", str(model),
                           "--dataset_name", str(corpus), "--dataset_config", "translation", "--output_dir", str(out),
                           "--max_steps", "2", "--per_device_train_batch_size", "2", "--save_strategy", "steps",
                           "--save_steps", "1", "--hub_token", ARG_TOKEN, "--log_level", "info"],
                          capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "model.safetensors").exists() and (out / "checkpoint-2").is_dir()
    for secret in (ENV_TOKEN, ARG_TOKEN):
        assert secret not in proc.stdout + proc.stderr
        assert files_containing(out, secret) == [], secret  # weights, configs, card, training_args.bin, checkpoints


@pytest.mark.slow
def test_evaluation_results_and_logs_hold_no_token(tmp_path, tiny_model_dir, capsys, caplog, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data" / "xquad"
    data.mkdir(parents=True)
    context = "北京是中国的首都。"
    squad = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "中国的首都是哪里？", "answers": [{"text": "北京", "answer_start": 0}]}]}]}]}
    (data / "xquad.zh.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model_dir), "--tasks", "coit_xquad:zh", "--data-dir",
                 str(tmp_path / "data"), "--max-samples", "1", "--max-new-tokens", "4", "--output-dir", str(out),
                 "--metadata", "lang=zh"]) == 0
    captured = capsys.readouterr()
    assert (out / "coit_results.json").exists()
    assert ENV_TOKEN not in captured.out + captured.err + caplog.text
    assert files_containing(out, ENV_TOKEN) == []
