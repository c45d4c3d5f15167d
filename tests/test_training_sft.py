"""End-to-end SFT through recipes/sft_coit.py (subprocess, as users run it): full FT, LoRA, Hub push, 2 processes,
resume. Uses the harness fixtures `tiny_model_dir` and `hub`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset

from coit_hf.templates import assistant_message, translation_instruction, user_message

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "sft_coit.py"
FIXTURES = ROOT / "tests" / "fixtures"


def corpus_rows(lang: str = "zh") -> dict[str, list[dict]]:
    """Contract-1 rows per config from the small real fixtures: Alpaca en/zh + en->zh UDHR translation pairs."""
    def read(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    general, translation = [], []
    for subset, file in (("alpaca_en", "alpaca_en.jsonl"), (f"alpaca_{lang}", f"alpaca_{lang}.jsonl")):
        for i, r in enumerate(read(FIXTURES / file)):
            general.append(dict(id=f"{subset}-{i}", instruction=r["instruction"], input=r["input"], output=r["output"],
                                lang=subset.split("_")[1], task="general", source=file, subset=subset))
    for i, r in enumerate(read(FIXTURES / "udhr_sample_7way.jsonl")):
        translation.append(dict(id=f"udhr-{i}", instruction=translation_instruction("en", lang, index=i),
                                input=r["en"], output=r[lang], lang=lang, task="translation",
                                source="udhr_sample_7way.jsonl", subset=f"translation_en-{lang}"))
    for rows in (general, translation):
        for r in rows:
            r["messages"] = [user_message(r["instruction"], r["input"]), assistant_message(r["output"])]
    return {"general": general, "translation": translation, "all": general + translation}


def write_corpus(folder: Path, lang: str = "zh") -> Path:
    """A corpus folder in the contract-1 layout (README configs + <config>/<split>-*.parquet)."""
    configs = []
    for config, rows in corpus_rows(lang).items():
        val = rows[::10]
        train = [r for r in rows if r not in val]
        files = []
        for split, part in (("train", train), ("validation", val)):
            (folder / config).mkdir(parents=True, exist_ok=True)
            Dataset.from_list(part).to_parquet(str(folder / config / f"{split}-00000-of-00001.parquet"))
            files.append(f"  - split: {split}\n    path: {config}/{split}-*.parquet")
        configs.append(f"- config_name: {config}\n  data_files:\n" + "\n".join(files))
    (folder / "README.md").write_text("---\nconfigs:\n" + "\n".join(configs) + "\n---\n# test corpus\n",
                                      encoding="utf-8")
    return folder


def run_recipe(*args: str, recipe: str = "demo/tiny.yaml", env: dict | None = None, launcher: list[str] | None = None,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """Run recipes/sft_coit.py as users do (a subprocess); fail the test with its output when it fails."""
    cmd = [*(launcher or [sys.executable]), str(SCRIPT), "--config", str(ROOT / "recipes" / recipe), *args]
    proc = subprocess.run(cmd, env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout,
                          cwd=str(ROOT))
    assert proc.returncode == 0, f"{' '.join(cmd)}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}"
    return proc


def logits_of(model_id: str | Path, text: str = "### Instruction:\n三原色是什么？\n\n### Response:"):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_id))
    model = AutoModelForCausalLM.from_pretrained(str(model_id), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def assert_card(folder: Path, *, base_model: str, adapter: bool) -> str:
    from huggingface_hub import ModelCard

    card = ModelCard.load(folder / "README.md")
    assert card.data.base_model == base_model and card.data.language == ["zh"]
    assert card.data.library_name == ("peft" if adapter else "transformers")
    text = card.text
    assert re.search(r"\| alpaca_zh \| \d+ \|", text) and "translation_en-zh" in text  # rows per subset
    assert "| assistant_only_loss | True |" in text and "| max_steps | 4 |" in text
    assert "- trl: " in text and "zhu2023extrapolating" in text and "Intended use" in text
    return text


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "coit-zh")


@pytest.mark.slow
def test_full_ft_from_loopback_hub_corpus_then_push_and_reload(hub, tiny_model_dir: Path, tmp_path: Path):
    from datasets import DatasetDict

    rows = corpus_rows("zh")["all"]
    DatasetDict({"train": Dataset.from_list(rows[9:]), "validation": Dataset.from_list(rows[:9])}).push_to_hub(
        hub.repo_id("coit-zh"), config_name="all")
    out = tmp_path / "x-tiny"
    proc = run_recipe("--model_name_or_path", str(tiny_model_dir), "--dataset_name", hub.repo_id("coit-zh"),
                      "--output_dir", str(out), "--max_steps", "4", "--push_to_hub", "true",
                      "--hub_model_id", hub.repo_id("x-tiny"), "--base_model_id", "org/tiny-llama", env=hub.env)
    assert "world size 1" in proc.stdout
    for name in ("model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja", "README.md"):
        assert (out / name).is_file(), name
    from coit_hf.files import current_umask

    # safetensors writes 0600 whatever the umask: the saved weights get the mode a plain write would give.
    assert (out / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert "### Response:" in (out / "chat_template.jinja").read_text()  # alpaca, not the base's ChatML
    text = assert_card(out, base_model="org/tiny-llama", adapter=False)
    assert hub.repo_id("coit-zh") in text
    # The Hub copy is ours (not TRL's regenerated card) and computes the same function.
    from huggingface_hub import hf_hub_download

    pushed = Path(hf_hub_download(hub.repo_id("x-tiny"), "README.md"))
    assert pushed.read_text(encoding="utf-8") == (out / "README.md").read_text(encoding="utf-8")
    import torch

    assert torch.equal(logits_of(hub.repo_id("x-tiny")), logits_of(out))
    assert not torch.equal(logits_of(out), logits_of(tiny_model_dir))  # it trained


@pytest.mark.slow
def test_lora_from_local_corpus_merged_and_pushed_to_a_private_revision(hub, tiny_model_dir: Path, corpus: Path,
                                                                          tmp_path: Path):
    import torch
    from huggingface_hub import HfApi
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    out = tmp_path / "x-tiny-lora"
    repo = hub.repo_id("x-tiny-lora")
    run_recipe("--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(corpus), "--output_dir", str(out),
               "--max_steps", "4", "--merge_adapter", "true", "--push_to_hub", "true", "--hub_model_id", repo,
               "--hub_private_repo", "true", "--hub_revision", "v1", recipe="demo/tiny-lora.yaml", env=hub.env)
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    assert not (out / "model.safetensors").exists()
    assert_card(out, base_model=tiny_model_dir.name, adapter=True)
    assert_card(out / "merged", base_model=tiny_model_dir.name, adapter=False)
    # The merged model computes what base + adapter computes.
    peft_model = AutoPeftModelForCausalLM.from_pretrained(str(out)).eval()
    ids = AutoTokenizer.from_pretrained(out)("三原色是什么？", return_tensors="pt")
    with torch.no_grad():
        want = peft_model(**ids).logits
    merged = logits_of(out / "merged", "三原色是什么？")
    torch.testing.assert_close(merged, want, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(merged, logits_of(tiny_model_dir, "三原色是什么？"))
    # Pushed: the merged model (not the adapter) on branch v1 of a private repo.
    api = HfApi()
    assert api.model_info(repo).private
    files = set(api.list_repo_files(repo, revision="v1"))
    assert {"model.safetensors", "README.md", "tokenizer.json"} <= files and "adapter_model.safetensors" not in files
    assert not any(f.startswith("merged/") for f in files)


@pytest.mark.slow
def test_two_process_cpu_run_reports_world_size_2(tiny_model_dir: Path, corpus: Path, tmp_path: Path):
    out = tmp_path / "x-tiny-ddp"
    proc = run_recipe("--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(corpus),
                      "--output_dir", str(out), "--max_steps", "2", "--use_cpu", "true",
                      launcher=[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"])
    assert "world size 2" in proc.stdout and "MULTI_CPU" in proc.stdout
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    assert "| global_batch_size | 8 |" in (out / "README.md").read_text(encoding="utf-8")
    # Without use_cpu, accelerate would see two independent single-process runs: refused with the fix named.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT),
           "--config", str(ROOT / "recipes" / "demo" / "tiny.yaml"), "--model_name_or_path", str(tiny_model_dir),
           "--dataset_name", str(corpus), "--output_dir", str(tmp_path / "refused")]
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert bad.returncode != 0 and "--use_cpu true" in bad.stderr


@pytest.mark.slow
def test_resume_after_checkpoint_equals_uninterrupted_run(tiny_model_dir: Path, corpus: Path, tmp_path: Path):
    import shutil

    from safetensors.torch import load_file

    common = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(corpus), "--max_steps", "6",
              "--save_strategy", "steps", "--save_steps", "3", "--save_total_limit", "5"]
    full = tmp_path / "full"
    run_recipe(*common, "--output_dir", str(full))
    # The interrupted run: only what existed right after checkpoint-3 was written, then resumed.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(full / "checkpoint-3", resumed / "checkpoint-3")
    proc = run_recipe(*common, "--output_dir", str(resumed), "--resume_from_checkpoint", "true")
    assert (resumed / "checkpoint-6").is_dir()
    a, b = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    ckpt3 = load_file(full / "checkpoint-3" / "model.safetensors")
    import torch

    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=0)
    assert any(not torch.equal(a[k], ckpt3[k]) for k in a)  # steps 4-6 really ran after the resume
    assert proc.returncode == 0


def test_training_data_from_corpus_shorthand_and_mixture_file(corpus: Path, tmp_path: Path):
    from coit_hf.data.mixture import parse_shorthand
    from coit_hf.errors import CoitError
    from coit_hf.training.config import CoitScriptArguments
    from coit_hf.training.data import load_training_data

    data, summary = load_training_data(CoitScriptArguments(dataset_name=str(corpus), dataset_config="all",
                                                           dataset_test_split="validation", max_train_samples=30),
                                       with_eval=True)
    assert data["train"].column_names == ["messages"] and len(data["train"]) == 30 and "validation" in data
    assert "validation" not in load_training_data(CoitScriptArguments(dataset_name=str(corpus), dataset_config="all"))[0]
    with pytest.raises(CoitError, match="field 'dataset_test_split': no split 'test' to evaluate on"):
        load_training_data(CoitScriptArguments(dataset_name=str(corpus), dataset_config="all"), with_eval=True)
    assert sum(r["rows"] for r in summary) == 30 and all(r["name"] == "all" for r in summary)
    data, summary = load_training_data(CoitScriptArguments(dataset_name=str(corpus),
                                                           mixture="translation_en-zh[:10]+alpaca_zh"))
    from datasets import load_dataset

    n_zh = load_dataset(str(corpus), "general", split="train")["subset"].count("alpaca_zh")
    assert len(data["train"]) == 10 + n_zh
    assert {(r["subset"], r["name"], r["rows"]) for r in summary} == {("translation_en-zh", "translation", 10),
                                                                      ("alpaca_zh", "general", n_zh)}
    path = parse_shorthand("alpaca_en[:5]", str(corpus)).to_yaml(tmp_path / "mix.yaml")
    data, summary = load_training_data(CoitScriptArguments(mixture_file=str(path)))
    assert len(data["train"]) == 5 and summary[0]["subset"] == "alpaca_en"
    with pytest.raises(CoitError, match="messages"):
        load_training_data(CoitScriptArguments(dataset_name=str(corpus), dataset_config="all",
                                               messages_column="conversation"))
    with pytest.raises(CoitError, match="dataset_name"):
        load_training_data(CoitScriptArguments())
