"""GPU throughput and MFU: a ~1B Llama-shaped model (random init), bf16, sdpa, padded batches vs packed rows.

Both sides train the same model for the same number of steps on the same synthetic CoIT-like length mix (60%
short translation-pair-sized examples, 40% longer instruction-sized ones):

* baseline (Alpaca-fork style): ``--micro-batch`` examples per step, right-padded to the longest one, loss on the
  real tokens only.
* coit-hf (packing): the examples concatenated into rows of exactly ``--seq-len`` tokens (``--micro-batch`` rows
  per step), no padding at all. ``--doc-mask`` resets position ids at each example boundary, which transformers
  turns into a block-diagonal (per-example) attention mask (slower with sdpa; use flash attention for that).

Reported: useful (non-padding) tokens/s, and MFU = achieved model FLOP/s ÷ the device's dense bf16 peak, with
model FLOPs per token = 6·N + 12·L·d·T (N = parameters in matmuls incl. the LM head, excluding the input
embedding; L layers, d hidden size, T sequence length — the PaLM convention, no causal discount). The peak is
looked up from the device name (H100 SXM / H200: 989 TFLOP/s) or given with ``--peak-tflops``; on CPU MFU is null.

Usage::

    python benchmarks/gpu_mfu.py                       # 1B-shaped model on the GPU (seq 2048, 20 steps)
    python benchmarks/gpu_mfu.py --quick               # tiny config, runs on CPU in seconds (smoke test)
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit_result  # noqa: E402

# Llama-3.2-1B shape (1.24B parameters with its 128k vocabulary, tied embeddings)
PRESETS: dict[str, dict[str, Any]] = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True),
    "tiny": dict(hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512, tie_word_embeddings=True),
}

# dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, matched against torch.cuda.get_device_name()
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4), ("GH200", 989.4),
    ("B200", 2250.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0), ("A10G", 70.0), ("RTX 4090", 165.2),
)


def peak_tflops_for(device_name: str) -> float | None:
    """Dense bf16 peak of a GPU from its name, or None when unknown."""
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return value
    return None


def sample_lengths(count: int, max_len: int, rng: random.Random) -> list[int]:
    """A CoIT-like length mix: 60% translation pairs (24-160 tokens), 40% instructions (160-1024, long tail)."""
    lengths = []
    for _ in range(count):
        if rng.random() < 0.6:
            n = int(rng.lognormvariate(math.log(60), 0.45))
            n = min(max(n, 24), 160)
        else:
            n = int(rng.lognormvariate(math.log(330), 0.55))
            n = min(max(n, 160), 1024)
        lengths.append(min(n, max_len))
    return lengths


def flops_per_token(config: Any, seq_len: int) -> float:
    """Training FLOPs per token: 6·N (matmul parameters incl. LM head) + 12·L·d·T (attention scores/values)."""
    d, layers, ff = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    head_dim = d // config.num_attention_heads
    kv = config.num_key_value_heads * head_dim
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * ff  # q, o, k, v, gate/up/down
    matmul_params = layers * per_layer + d * config.vocab_size
    return 6 * matmul_params + 12 * layers * d * seq_len


def padded_batches(lengths: list[int], micro_batch: int, vocab: int, gen: Any) -> list[dict[str, Any]]:
    """Alpaca-fork batches: ``micro_batch`` examples right-padded to the longest; labels -100 on padding."""
    import torch

    batches = []
    for start in range(0, len(lengths) - micro_batch + 1, micro_batch):
        chunk = lengths[start:start + micro_batch]
        width = max(chunk)
        ids = torch.randint(3, vocab, (len(chunk), width), generator=gen)
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        for row, n in enumerate(chunk):
            mask[row, :n] = 1
        labels = ids.masked_fill(mask == 0, -100)
        batches.append({"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask, "labels": labels,
                        "real_tokens": int(mask.sum()), "slots": mask.numel()})
    return batches


def packed_batches(lengths: list[int], micro_batch: int, seq_len: int, vocab: int, gen: Any,
                   doc_mask: bool) -> list[dict[str, Any]]:
    """Packed rows of exactly ``seq_len`` tokens (examples concatenated, split at row ends), no padding."""
    import torch

    total = sum(lengths)
    rows = total // seq_len
    ids = torch.randint(3, vocab, (rows, seq_len), generator=gen)
    positions = torch.empty(rows * seq_len, dtype=torch.long)
    cursor = 0
    for n in lengths:
        end = min(cursor + n, rows * seq_len)
        if end <= cursor:
            break
        positions[cursor:end] = torch.arange(end - cursor)
        cursor = end
    positions = positions.view(rows, seq_len)
    batches = []
    for start in range(0, rows - micro_batch + 1, micro_batch):
        batch: dict[str, Any] = {"input_ids": ids[start:start + micro_batch],
                                 "labels": ids[start:start + micro_batch].clone(),
                                 "real_tokens": micro_batch * seq_len, "slots": micro_batch * seq_len}
        if doc_mask:
            batch["position_ids"] = positions[start:start + micro_batch]
        batches.append(batch)
    return batches


def run_side(model: Any, batches: list[dict[str, Any]], steps: int, warmup: int, device: Any,
             autocast_dtype: Any) -> dict[str, Any]:
    """Train ``steps`` steps after ``warmup`` untimed ones; returns tokens, seconds and peak memory."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    real = slots = seq_sum = rows = 0
    started = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            sync()
            started = time.perf_counter()
            real = slots = seq_sum = rows = 0
        batch = batches[step % len(batches)]
        inputs = {k: v.to(device, non_blocking=True) for k, v in batch.items() if hasattr(v, "to")}
        with torch.autocast(device.type, dtype=autocast_dtype):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        real += batch["real_tokens"]
        slots += batch["slots"]
        rows += batch["input_ids"].shape[0]
        seq_sum += batch["input_ids"].shape[1] * batch["input_ids"].shape[0]
    sync()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    del optimizer
    return {"seconds": seconds, "real_tokens": real, "slots": slots, "loss": float(loss.detach()),
            "peak_mem_gib": round(peak, 2) if peak is not None else None,
            "mean_row_len": seq_sum / max(1, rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny config, seq 256, 3 steps (CPU smoke test)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None, help="model shape (default 1b; tiny)")
    parser.add_argument("--seq-len", type=int, default=2048, help="packed row length / max example length")
    parser.add_argument("--micro-batch", type=int, default=8, help="packed rows per step")
    parser.add_argument("--baseline-batch", type=int, default=None,
                        help="examples per padded baseline step (default: the same tensor budget as a packed step, "
                             "micro_batch*seq_len / longest example)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--attn", default="sdpa", help="attn_implementation (sdpa, flash_attention_2, eager)")
    parser.add_argument("--doc-mask", action="store_true", help="per-example attention in packed rows")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak (overrides the lookup)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.preset = args.preset or "tiny"
        args.seq_len, args.micro_batch, args.steps, args.warmup = 256, 2, 3, 1
    preset = args.preset or "1b"

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops or (peak_tflops_for(device_name) if device.type == "cuda" else None)

    config = LlamaConfig(**PRESETS[preset], max_position_embeddings=max(args.seq_len, 2048), rope_theta=500000.0,
                         attn_implementation=args.attn)
    with torch.device(device):  # initialise on the device (a 1B model initialised on CPU takes a minute)
        model = LlamaForCausalLM(config)
    if args.activation_checkpointing:
        model.gradient_checkpointing_enable()
    params = sum(p.numel() for p in model.parameters())
    fwd = torch.compile(model) if args.compile else model

    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    per_step_tokens = args.micro_batch * args.seq_len
    lengths = sample_lengths(max(64, 4 * per_step_tokens // 200) * (args.steps + args.warmup), args.seq_len, rng)
    baseline_batch = args.baseline_batch or max(1, per_step_tokens // max(lengths))
    baseline = padded_batches(lengths[:baseline_batch * (args.steps + args.warmup)], baseline_batch,
                              config.vocab_size, gen)
    packed = packed_batches(lengths, args.micro_batch, args.seq_len, config.vocab_size, gen, args.doc_mask)
    dtype = torch.bfloat16

    results = {}
    for side, batches in (("baseline", baseline), ("coit_hf", packed)):
        results[side] = run_side(fwd, batches, args.steps, args.warmup, device, dtype)
    out: dict[str, Any] = {}
    for side, r in results.items():
        tps = r["real_tokens"] / r["seconds"]
        seq_for_flops = r["mean_row_len"]
        fpt = flops_per_token(config, int(seq_for_flops))
        entry = {"tokens_per_s": round(tps, 1), "padding_fraction": round(1 - r["real_tokens"] / r["slots"], 4),
                 "seconds": round(r["seconds"], 3), "tokens": r["real_tokens"], "peak_mem_gib": r["peak_mem_gib"],
                 "final_loss": round(r["loss"], 4), "model_tflops_per_s": float(f"{tps * fpt / 1e12:.4g}"),
                 "mfu": round(tps * fpt / (peak * 1e12), 4) if peak else None,
                 "mfu_incl_padding": round(r["slots"] / r["seconds"] * fpt / (peak * 1e12), 4) if peak else None}
        out[side] = entry
    emit_result(
        "gpu_mfu", out["baseline"]["tokens_per_s"], out["coit_hf"]["tokens_per_s"], "tokens/s",
        mfu=out["coit_hf"]["mfu"], baseline_mfu=out["baseline"]["mfu"], details=out,
        model={"preset": preset, "parameters": params, "attn": args.attn, "dtype": "bf16 autocast, fp32 master",
               "compile": args.compile, "activation_checkpointing": args.activation_checkpointing},
        seq_len=args.seq_len, micro_batch=args.micro_batch, baseline_batch=baseline_batch, steps=args.steps,
        warmup=args.warmup, doc_mask=args.doc_mask, device=device_name, peak_tflops=peak,
        goal={"mfu": 0.5}, flops_formula="6*N_matmul + 12*L*d*T (PaLM), T = mean row length",
    )


if __name__ == "__main__":
    main()
