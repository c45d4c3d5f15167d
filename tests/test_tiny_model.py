"""coit_hf.tiny_model: a deterministic tiny Llama with a multilingual byte-level BPE tokenizer."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

import pytest

from coit_hf.errors import InputError
from coit_hf.templates import load_chat_template
from coit_hf.tiny_model import build_tiny_model, collect_texts

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "udhr_sample_7way.jsonl"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)


def test_build_is_deterministic(tiny_model_dir, tiny_model_texts, tmp_path):
    again = build_tiny_model(tmp_path / "again", tiny_model_texts)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "generation_config.json"):
        assert _sha(again / name) == _sha(tiny_model_dir / name), name
    other_seed = build_tiny_model(tmp_path / "seed1", tiny_model_texts, seed=1)
    assert _sha(other_seed / "model.safetensors") != _sha(tiny_model_dir / "model.safetensors")
    assert _sha(other_seed / "tokenizer.json") == _sha(tiny_model_dir / "tokenizer.json")


def test_model_shape_and_special_tokens(loaded, tiny_model_dir):
    model, tokenizer = loaded
    assert model.config.model_type == "llama"
    assert model.num_parameters() <= 2_000_000
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert tokenizer.unk_token_id not in (im_start, im_end) and im_start != im_end
    assert tokenizer.chat_template == load_chat_template("chatml")
    generation = model.generation_config
    assert generation.pad_token_id == tokenizer.pad_token_id == model.config.pad_token_id
    assert set(generation.eos_token_id) == {tokenizer.eos_token_id, im_end}
    text = tokenizer.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text == "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
    assert ids[0] == im_start  # special tokens stay single tokens


def test_tokenizer_round_trips_multilingual_text_and_normalises_nfc(loaded):
    _, tokenizer = loaded
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    for lang in ("zh", "ar", "hi", "el", "vi", "tr", "en"):
        text = rows[1][lang]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text, lang
        # Trained merges: far fewer tokens than UTF-8 bytes on text of the training languages.
        assert len(ids) < 0.5 * len(text.encode("utf-8")), lang
    composed = "Việt Nam Ελλάδα"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert tokenizer(decomposed)["input_ids"] == tokenizer(composed)["input_ids"]


def test_model_runs_forward_and_generate(loaded):
    import math

    import torch

    model, tokenizer = loaded
    batch = tokenizer(["人人生而自由", "All human beings are born free"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**batch, labels=batch["input_ids"])
    assert out.logits.shape[:2] == batch["input_ids"].shape and out.logits.shape[-1] == len(tokenizer)
    assert abs(out.loss.item() - math.log(len(tokenizer))) < 1.0  # untrained: close to uniform
    generated = model.generate(**tokenizer(["Article 1"], return_tensors="pt"), max_new_tokens=4, do_sample=False)
    assert generated.shape[1] <= len(tokenizer("Article 1")["input_ids"]) + 4


def test_collect_texts_reads_jsonl_squad_and_txt(tmp_path):
    (tmp_path / "a.txt").write_text("line one\n\nline two\n", encoding="utf-8")
    squad = {"data": [{"paragraphs": [{"context": f"ctx {i}", "qas": [{"question": f"q {i}"}]} for i in range(5)]}]}
    (tmp_path / "b.json").write_text(json.dumps(squad), encoding="utf-8")
    (tmp_path / "c.jsonl").write_text('{"en": "hi", "zh": "你好", "unit": 1}\n', encoding="utf-8")
    texts = collect_texts([tmp_path], max_contexts_per_file=2)
    assert texts == ["line one", "line two", "ctx 0", "q 0", "ctx 1", "q 1", "hi", "你好"]
    udhr = collect_texts([FIXTURE])
    assert len(udhr) == 30 * 7


def test_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"en": "ok"}\n{"en": broken}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        collect_texts([bad])
    assert "bad.jsonl" in str(err.value) and "2" in str(err.value)
    with pytest.raises(InputError):
        collect_texts([tmp_path / "missing.txt"])
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("x")
    with pytest.raises(InputError):
        build_tiny_model(taken, ["some text"])
    assert (taken / "keep.txt").read_text() == "x"
