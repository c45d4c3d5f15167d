"""Per-token negative log-likelihood of reference outputs under a causal LM.

A sensitive measure for small models whose generations barely change: how much more likely the model finds the
held-out reference translation after tuning. Prompt tokens are not scored; the reference is followed by EOS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm


@dataclass(frozen=True)
class NLLResult:
    """Mean NLL per reference token (nats), its perplexity, and the number of scored tokens."""

    nll_per_token: float
    perplexity: float
    tokens: int


@torch.no_grad()
def reference_nll(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[str],
    references: Sequence[str],
    *,
    batch_size: int = 8,
    add_eos: bool = True,
    progress: bool = False,
) -> NLLResult:
    """Return the token-weighted mean NLL of ``references`` given ``prompts`` (pairwise) under ``model``.

    Each example is tokenised as prompt + reference (+ EOS); only the reference (and EOS) tokens are scored.
    Batches are right-padded and padding is masked out, so the result does not depend on ``batch_size``.
    """
    if len(prompts) != len(references):
        raise ValueError(f"{len(prompts)} prompts but {len(references)} references")
    model.eval()
    device = next(model.parameters()).device
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []
    examples = []
    for prompt, reference in zip(prompts, references, strict=True):
        prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        full_ids = tokenizer(prompt + reference, add_special_tokens=True)["input_ids"] + eos
        # Score the tokens after the shared prompt prefix (BPE may merge across the boundary; fall back to length).
        start = len(prompt_ids) if full_ids[: len(prompt_ids)] == prompt_ids else min(len(prompt_ids), len(full_ids) - 1)
        examples.append((full_ids, max(start, 1)))
    total_nll, total_tokens = 0.0, 0
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for offset in tqdm(range(0, len(examples), batch_size), desc="reference NLL", disable=not progress):
        batch = examples[offset : offset + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        scored = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, (ids, start) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            scored[row, start : len(ids)] = True
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits.float()
        log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
        targets = input_ids[:, 1:].to(device)
        token_lp = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        mask = scored[:, 1:].to(device)
        total_nll -= float(token_lp[mask].sum())
        total_tokens += int(mask.sum())
    mean = total_nll / max(total_tokens, 1)
    return NLLResult(nll_per_token=mean, perplexity=math.exp(min(mean, 50.0)), tokens=total_tokens)
