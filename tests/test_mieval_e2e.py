"""End to end: coit_mieval:zh/ar with two tiny checkpoints, then `coit-hf compare` with a local judge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from coit_hf.cli import main
from coit_hf.evaluation import runner, sources
from coit_hf.evaluation.results import GENERATIONS_FILE, load_results
from coit_hf.writing_systems import dominant_script

FIXTURES = Path(__file__).parent / "fixtures"
MIEVAL_SOURCE = f"mieval={FIXTURES / 'mieval_{lang}.jsonl'}"
FAKE_SECRETS = {
    "OPENAI_API_KEY": "sk-test-PLANTED-openai-0123456789abcdef",
    "COIT_HF_JUDGE_API_KEY": "sk-test-PLANTED-judge-0123456789abcdef",
    "HF_TOKEN": "hf_" + "PLANTEDtokenABCDEFGHIJKLMNOPQRSTUVWX",  # split: a fake token, not a secret
}


def _fine_tune(base: Path, out: Path, texts: list[str], steps: int, seed: int) -> Path:
    """A few causal-LM steps on ``texts`` from ``base`` (so the checkpoint writes Chinese), saved to ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    with torch.enable_grad():  # lighteval's model code turns autograd off process-wide when it runs earlier
        for step in range(steps):
            batch = [texts[(step * 8 + i) % len(texts)] for i in range(8)]
            enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=64)
            loss = model(**enc, labels=enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.copy(base / "generation_config.json", out / "generation_config.json")
    return out


def _perturbed_copy(base: Path, out: Path, scale: float, seed: int) -> Path:
    """``base`` with Gaussian noise (``scale`` x each tensor's std) added to every weight, saved to ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * param.std() * scale)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    shutil.copy(base / "generation_config.json", out / "generation_config.json")
    return out


@pytest.fixture(scope="module")
def two_checkpoints(tiny_model_dir, tiny_model_texts, tmp_path_factory) -> tuple[Path, Path]:
    """A: the tiny model tuned 40 steps on Han-script text (it then answers in Chinese characters); B: A with
    perturbed weights. (Further training collapses the tiny model onto punctuation, which no gate lets through.)"""
    han = [t for t in tiny_model_texts if dominant_script(t) == "Han"]
    root = tmp_path_factory.mktemp("mieval_ckpt")
    a = _fine_tune(tiny_model_dir, root / "tiny-a", han, steps=40, seed=0)
    b = _perturbed_copy(a, root / "tiny-b", scale=0.3, seed=5)
    return a, b


def _files_text(*folders: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for f in folders for p in f.rglob("*") if p.is_file())


@pytest.mark.slow
def test_mieval_zh_ar_then_compare_with_local_judge(two_checkpoints, tmp_path, monkeypatch, capsys):
    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)
    a_dir, b_dir = two_checkpoints
    outs = {}
    for label, model in (("a", a_dir), ("b", b_dir)):
        outs[label] = tmp_path / f"eval_{label}"
        settings = runner.EvalSettings(
            model=str(model), tasks=["coit_mieval:zh|0", "coit_mieval:ar"], output_dir=str(outs[label]),
            sources=dict([sources.parse_source(MIEVAL_SOURCE)]), generation_size=12, metadata={"label": f"tiny-{label}"},
        )
        runner.run_evaluation(settings)
        results = load_results(outs[label])
        assert set(results["tasks"]) == {"coit_mieval:zh", "coit_mieval:ar"}
        assert all(results["tasks"][t]["n"] == 8 for t in results["tasks"])
        rows = [json.loads(x) for x in (outs[label] / GENERATIONS_FILE).read_text(encoding="utf-8").splitlines()]
        assert len(rows) == 16 and {r["lang"] for r in rows} == {"zh", "ar"}
        zh1 = next(r for r in rows if r["id"] == "zh-01")
        assert zh1["prompt"].endswith("### Instruction:\n请给出三条改善睡眠的建议。\n\n### Response:")
    from safetensors.torch import load_file

    weights = [load_file(d / "model.safetensors") for d in (a_dir, b_dir)]
    assert any(not (weights[0][k] == weights[1][k]).all() for k in weights[0])  # two different checkpoints

    cmp_dir = tmp_path / "compare"
    code = main(["compare", "--a", str(outs["a"]), "--b", str(outs["b"]), "--judge", f"transformers:{a_dir}",
                 "--judge-max-tokens", "8", "--output-dir", str(cmp_dir)])
    assert code == 0
    report = json.loads((cmp_dir / "compare.json").read_text(encoding="utf-8"))
    assert set(report["languages"]) == {"zh", "ar"}
    for lang, t in report["languages"].items():
        assert t["n"] == 8 and t["win"] + t["tie"] + t["loss"] == 8, (lang, t)
    assert report["overall"]["n"] == 16
    records = [json.loads(x) for x in (cmp_dir / "compare_items.jsonl").read_text(encoding="utf-8").splitlines()]
    judged = [r for r in records if r["decided_by"] == "judge"]
    # the tuned checkpoints answer Chinese prompts in Chinese: those pairs went to the real transformers judge
    assert judged and all(r["lang"] == "zh" for r in judged)
    assert report["languages"]["zh"]["judged"] == len(judged)
    assert all(isinstance(r["reply_a_first"], str) and isinstance(r["reply_b_first"], str) for r in judged)
    # ...and do not write Arabic: gated answers never reach the judge
    assert report["languages"]["ar"]["gate_rate_a"] == 100.0 and report["languages"]["ar"]["judged"] == 0
    assert report["judge"]["kind"] == "transformers" and report["a"]["label"] == "tiny-a"
    md = (cmp_dir / "compare.md").read_text(encoding="utf-8")
    assert "| zh | 8 |" in md and "| ar | 8 |" in md and "gate rate A" in md
    assert "| zh | 8 |" in capsys.readouterr().out
    # lighteval's details Parquet holds the same generations (fallback for runs made with lighteval's own CLI)
    from coit_hf.evaluation.compare import generations_from_details

    jsonl = [json.loads(x) for x in (outs["a"] / GENERATIONS_FILE).read_text(encoding="utf-8").splitlines()]
    assert sorted(generations_from_details(outs["a"]), key=lambda r: (r["task"], r["id"])) == jsonl
    # `coit-hf report` shows the comparison per language next to the runs' tables (mieval fidelity = 1 - gate rate)
    assert main(["report", str(outs["a"]), str(outs["b"]), "--compare", str(cmp_dir),
                 "--output-dir", str(tmp_path / "report")]) == 0
    report_md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## mieval/fidelity" in report_md and "Multilingual instruction following (pairwise)" in report_md
    zh = report["languages"]["zh"]
    assert f"| zh | 8 | {zh['win']} | {zh['tie']} | {zh['loss']} |" in report_md
    text = _files_text(outs["a"], outs["b"], cmp_dir, tmp_path / "report")
    for secret in FAKE_SECRETS.values():
        assert secret not in text
