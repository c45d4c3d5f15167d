"""Representation alignment on the tiny model with UDHR 7-way: end to end, retrieval sanity, padding invariance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from coit_hf.analysis import alignment as al
from coit_hf.analysis.card import card_section
from coit_hf.cli import main
from coit_hf.errors import InputError

LANGS = ["en", "ar", "el", "hi", "tr", "vi", "zh"]


@pytest.fixture(scope="module")
def udhr(shared_benchmarks):
    return shared_benchmarks / "udhr" / "udhr_7way.jsonl"


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return al.load_model_and_tokenizer(str(tiny_model_dir))


@pytest.mark.slow
def test_align_cli_end_to_end_udhr(tiny_model_dir, udhr, tmp_path, capsys):
    out = tmp_path / "align"
    assert main(["align", "--model", str(tiny_model_dir), "--jsonl", str(udhr), "--output-dir", str(out),
                 "--batch-size", "8"]) == 0
    result = json.loads((out / "alignment.json").read_text())
    n_layers = json.loads((tiny_model_dir / "config.json").read_text())["num_hidden_layers"]
    assert result["languages"] == LANGS and result["n_sentences"] == 80
    assert result["layers"] == list(range(n_layers + 1))
    assert len(result["pairs"]) == 21
    for metrics in result["pairs"].values():
        for key in ("pair_cosine", "random_cosine", "gap", "retrieval_a_to_b", "retrieval_b_to_a"):
            values = np.array(metrics[key])
            assert values.shape == (n_layers + 1,) and np.all(np.isfinite(values))
        np.testing.assert_allclose(np.array(metrics["pair_cosine"]) - metrics["random_cosine"], metrics["gap"],
                                   atol=1e-9)
        assert all(0.0 <= v <= 1.0 for v in metrics["retrieval_a_to_b"] + metrics["retrieval_b_to_a"])
    assert (out / "alignment.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "best layer by gap" in capsys.readouterr().out
    markdown, attachments = card_section(out)
    assert "80 parallel sentences" in markdown and attachments == [("Representation alignment by layer",
                                                                     str(out / "alignment.png"))]


def test_retrieval_is_perfect_for_identical_sides_and_chance_for_shuffled(tiny, udhr):
    model, tokenizer = tiny
    parallel = al.load_parallel_jsonl(udhr, ["en", "zh"])
    en, zh = parallel["en"], parallel["zh"]
    n = len(en)
    same = al.compute_alignment(model, tokenizer, {"en": en, "en_copy": list(en)}, batch_size=16)
    metrics = same["pairs"]["en-en_copy"]
    assert metrics["retrieval_a_to_b"] == [1.0] * len(same["layers"])
    assert metrics["retrieval_b_to_a"] == [1.0] * len(same["layers"])
    np.testing.assert_allclose(metrics["pair_cosine"], 1.0, atol=1e-5)

    perm = np.random.default_rng(0).permutation(n)
    shuffled = al.compute_alignment(model, tokenizer, {"en": en, "zh": [zh[i] for i in perm]}, batch_size=16)
    m = shuffled["pairs"]["en-zh"]
    both = np.array(m["retrieval_a_to_b"] + m["retrieval_b_to_a"])
    # Chance is 1/80: on average one lucky hit per direction; allow a handful, far from the 1.0 above.
    assert both.mean() <= 3.0 / n and both.max() <= 6.0 / n
    assert abs(np.mean(m["gap"])) < 0.05  # shuffled "pairs" are just random pairs


def test_padding_does_not_change_pooled_vector(tiny):
    model, tokenizer = tiny
    short = "All human beings are born free."
    long = " ".join(["Everyone has the right to life, liberty and security of person."] * 12)
    alone = al.pooled_representations(model, tokenizer, [short], batch_size=1)
    batched = al.pooled_representations(model, tokenizer, [short, long], batch_size=2)
    reordered = al.pooled_representations(model, tokenizer, [long, short], batch_size=2)
    torch.testing.assert_close(batched[:, 0], alone[:, 0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(reordered[:, 1], alone[:, 0], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(batched[:, 0], batched[:, 1])
    assert not model._forward_hooks and not model.get_input_embeddings()._forward_hooks  # hooks removed


def test_pooling_matches_hidden_states_reference(tiny):
    """The hook pooling equals a plain mask-aware mean of ``output_hidden_states`` (all but the post-norm last)."""
    model, tokenizer = tiny
    sentences = ["Article 1", "No one shall be held in slavery or servitude."]
    pooled = al.pooled_representations(model, tokenizer, sentences, batch_size=2)
    enc = tokenizer(sentences, return_tensors="pt", padding=True)
    with torch.no_grad():
        hs = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True)
    mask = enc["attention_mask"].unsqueeze(-1).float()
    for layer in range(len(hs.hidden_states) - 1):
        ref = (hs.hidden_states[layer] * mask).sum(1) / mask.sum(1)
        torch.testing.assert_close(pooled[layer], ref, atol=1e-5, rtol=1e-4)
    half = al.pooled_representations(model, tokenizer, sentences, batch_size=2, store_dtype=torch.float16)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), pooled, atol=1e-2, rtol=1e-2)


def test_loaders(tmp_path, udhr):
    (tmp_path / "eng_Latn.devtest").write_text("Hello\nWorld\n", encoding="utf-8")
    (tmp_path / "zho_Hans.devtest").write_text("你好\n世界\n", encoding="utf-8")
    assert al.load_flores_dir(tmp_path, ["en", "zh"]) == {"en": ["Hello", "World"], "zh": ["你好", "世界"]}
    (tmp_path / "bad.zh").write_text("你好\n", encoding="utf-8")
    with pytest.raises(InputError, match="differ in length"):
        al.load_text_files({"en": tmp_path / "eng_Latn.devtest", "zh": tmp_path / "bad.zh"})
    parallel = al.load_parallel_jsonl(udhr)
    assert list(parallel) == LANGS and len(parallel["hi"]) == 80
    sims = al.similarity_by_language(
        {"layers": [0, 1], "summary": {"best_layer_by_gap": 1},
         "pairs": {"en-zh": {"gap": [0.1, 0.3], "pair_cosine": [0.5, 0.6]}, "ar-en": {"gap": [0.0, 0.2]}}},
        pivot="en")
    assert sims == {"zh": 0.3, "ar": 0.2}
