"""Representation alignment of parallel sentences across layers (does the model map translations together?).

For each language the sentences are encoded in batches without gradients; forward hooks on the embedding layer and
each transformer block mean-pool the token states over the real tokens (attention mask, divided by the real token
count) as soon as a block has run, so only one ``(batch, hidden)`` vector per layer is kept — never every layer's
token states. Padding is on the right, so with a causal model a sentence's pooled vector does not depend on what
it is batched with. Per layer and language pair the module reports the mean cosine of translation pairs, of
random (seeded, deranged) pairs, their gap, and top-1 retrieval accuracy in both directions.

Layer 0 is the embedding output; layer ``i`` is the output of block ``i`` (before the final norm).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from coit_hf.errors import ConfigError, InputError
from coit_hf.files import require_model_path, write_json
from coit_hf.flores_files import find_flores_file

logger = logging.getLogger(__name__)

Parallel = dict[str, list[str]]


# ----------------------------------------------------------------------------------------------------- inputs
def _check_parallel(data: Mapping[str, Sequence[str]], source: object) -> Parallel:
    lengths = {lang: len(v) for lang, v in data.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"parallel sides differ in length: {lengths}", path=source)
    if len(data) < 2:
        raise InputError("need at least two languages", path=source)
    count = next(iter(lengths.values()), 0)
    if count < 2:
        raise InputError(f"{count} parallel sentence(s); alignment needs at least 2 (retrieval among one sentence "
                         "is always right, and random pairs need two)", path=source)
    for lang, sentences in data.items():
        repeated = len(sentences) - len(set(sentences))
        if repeated:
            logger.warning("%s: %d repeated %s sentence(s); retrieval cannot tell them apart", source, repeated, lang)
    return {lang: [str(s) for s in v] for lang, v in data.items()}


def load_parallel_jsonl(path: str | os.PathLike, langs: Sequence[str] | None = None) -> Parallel:
    """Parallel sentences from a JSONL file with one object per segment keyed by language (e.g. UDHR 7-way).

    Rows where any requested language is missing or empty are skipped (and counted in the log).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("is a folder, expected a JSONL file" if path.is_dir() else "file not found", path=path)
    from coit_hf.files import iter_jsonl

    rows = list(iter_jsonl(path))
    if not rows:
        raise InputError("no rows", path=path)
    if langs is None:
        langs = [k for k, v in rows[0][1].items() if isinstance(v, str)]
    for lang in langs:
        if not any(lang in rec for _, rec in rows):
            raise InputError(f"no row has language {lang!r}", path=path, field=lang)
    out: Parallel = {lang: [] for lang in langs}
    skipped = 0
    for _, rec in rows:
        if all(isinstance(rec.get(lang), str) and rec[lang].strip() for lang in langs):
            for lang in langs:
                out[lang].append(rec[lang].strip())
        else:
            skipped += 1
    if skipped:
        logger.info("%s: skipped %d rows missing a language", path, skipped)
    return _check_parallel(out, path)


def load_text_files(files: Mapping[str, str | os.PathLike]) -> Parallel:
    """Parallel sentences from one plain-text file per language, one sentence per line (Flores-style)."""
    out: Parallel = {}
    for lang, file in files.items():
        file = Path(file)
        if not file.is_file():
            raise InputError("is a folder, expected a text file" if file.is_dir() else "file not found", path=file)
        out[lang] = [line.rstrip("\n").strip() for line in file.open(encoding="utf-8")]
        while out[lang] and not out[lang][-1]:
            out[lang].pop()
    return _check_parallel(out, ", ".join(str(f) for f in files.values()))


def load_flores_dir(directory: str | os.PathLike, langs: Sequence[str], split: str = "devtest") -> Parallel:
    """Flores-style folder of one sentence file per language (layout: :mod:`coit_hf.flores_files`)."""
    return load_text_files({lang: find_flores_file(directory, lang, split) for lang in langs})


def load_hub_parallel(
    dataset: str,
    langs: Sequence[str],
    *,
    config: str | None = None,
    split: str = "devtest",
    columns: Mapping[str, str] | None = None,
) -> Parallel:
    """Parallel sentences from a Hub dataset (or local dataset folder) with one column per language.

    ``columns`` maps a language to its column (default: the language code itself).
    """
    import datasets

    ds = datasets.load_dataset(dataset, config, split=split)
    out: Parallel = {}
    for lang in langs:
        col = (columns or {}).get(lang, lang)
        if col not in ds.column_names:
            raise InputError(f"no column {col!r} (columns: {', '.join(ds.column_names)})", path=dataset, field=col)
        out[lang] = [str(x) for x in ds[col]]
    return _check_parallel(out, dataset)


# ----------------------------------------------------------------------------------------------------- encoding
def _find_blocks(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    for owner in (model, getattr(model, "model", None), getattr(model, "transformer", None)):
        if owner is None:
            continue
        for attr in ("layers", "h", "blocks"):
            mod = getattr(owner, attr, None)
            if isinstance(mod, torch.nn.ModuleList) and len(mod) > 0:
                return mod
    return None


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: ``Σ_t h_t·m_t / Σ_t m_t`` in float32."""
    m = mask.to(torch.float32).unsqueeze(-1)
    return (hidden.to(torch.float32) * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


@torch.no_grad()
def pooled_representations(
    model: torch.nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    *,
    batch_size: int = 16,
    max_length: int = 256,
    device: str | torch.device | None = None,
    desc: str | None = None,
    store_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Mask-aware mean-pooled hidden states, shape ``(layers + 1, len(sentences), hidden)`` on the CPU.

    Pooling is done in float32; ``store_dtype=torch.float16`` halves the memory of the kept vectors (for thousands
    of sentences on large models). Sentences are sorted by length for batching and returned in the input order.
    """
    if not sentences:
        raise InputError("no sentences to encode")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if tokenizer.pad_token is None:
            raise ConfigError("the tokenizer has no pad, eos or unk token to pad batches with")
    model.eval()
    blocks = _find_blocks(model)
    n_layers = len(blocks) if blocks is not None else int(model.config.num_hidden_layers)
    hidden_size = int(model.get_input_embeddings().embedding_dim)
    out = torch.empty(n_layers + 1, len(sentences), hidden_size, dtype=store_dtype)
    state: dict[str, Any] = {"mask": None, "pooled": [None] * (n_layers + 1)}

    def hook_for(index: int):
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, tuple | list) else output
            state["pooled"][index] = _masked_mean(hidden, state["mask"])

        return hook

    handles = []
    if blocks is not None:
        handles.append(model.get_input_embeddings().register_forward_hook(hook_for(0)))
        handles.extend(block.register_forward_hook(hook_for(i + 1)) for i, block in enumerate(blocks))
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    try:
        for start in tqdm(range(0, len(order), batch_size), desc=desc or "encoding", leave=False, disable=None):
            idx = order[start : start + batch_size]
            enc = tokenizer([sentences[i] for i in idx], return_tensors="pt", padding=True, truncation=True,
                            max_length=max_length)
            enc = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            state["mask"] = enc["attention_mask"]
            base = getattr(model, "model", None) if blocks is not None else None
            runner = base if isinstance(base, torch.nn.Module) and _find_blocks(base) is blocks else model
            if blocks is not None:
                runner(**enc, use_cache=False)
                pooled = state["pooled"]
            else:  # unknown architecture: hidden states of this batch only, pooled at once
                hs = model(**enc, output_hidden_states=True, use_cache=False).hidden_states
                pooled = [_masked_mean(h, state["mask"]) for h in hs]
            index = torch.as_tensor(idx)
            for layer in range(n_layers + 1):
                out[layer, index] = pooled[layer].cpu().to(store_dtype)
            state["pooled"] = [None] * (n_layers + 1)
    finally:
        for handle in handles:
            handle.remove()
    return out


# ----------------------------------------------------------------------------------------------------- metrics
def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation without fixed points (for random, non-translation pairs)."""
    if n < 2:
        return np.arange(n)
    perm = rng.permutation(n)
    fixed = np.nonzero(perm == np.arange(n))[0]
    for i in fixed:  # swap each fixed point with a neighbour; keeps it a permutation without fixed points
        j = (i + 1) % n
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def _top1_accuracy(x: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> float:
    """Share of rows of ``x`` whose most similar row of ``y`` (cosine; inputs normalised) has the same index."""
    hits = 0
    for start in range(0, x.shape[0], chunk):
        sims = x[start : start + chunk] @ y.T
        hits += int((sims.argmax(dim=1) == torch.arange(start, start + sims.shape[0])).sum())
    return hits / x.shape[0]


def pair_metrics(a: torch.Tensor, b: torch.Tensor, *, seed: int = 0) -> dict[str, list[float]]:
    """Per-layer metrics of aligned representations ``a``, ``b`` (``(layers, N, hidden)``)."""
    rng = np.random.default_rng(seed)
    perm = torch.as_tensor(_derangement(a.shape[1], rng))
    out: dict[str, list[float]] = {k: [] for k in
                                   ("pair_cosine", "random_cosine", "gap", "retrieval_a_to_b", "retrieval_b_to_a")}
    for layer in range(a.shape[0]):
        x = torch.nn.functional.normalize(a[layer].float(), dim=-1)
        y = torch.nn.functional.normalize(b[layer].float(), dim=-1)
        pair = float((x * y).sum(-1).mean())
        rand = float((x * y[perm]).sum(-1).mean())
        out["pair_cosine"].append(pair)
        out["random_cosine"].append(rand)
        out["gap"].append(pair - rand)
        out["retrieval_a_to_b"].append(_top1_accuracy(x, y))
        out["retrieval_b_to_a"].append(_top1_accuracy(y, x))
    return out


def compute_alignment(
    model: torch.nn.Module,
    tokenizer: Any,
    parallel: Mapping[str, Sequence[str]],
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    batch_size: int = 16,
    max_length: int = 256,
    seed: int = 0,
    device: str | torch.device | None = None,
    store_dtype: torch.dtype = torch.float32,
) -> dict[str, Any]:
    """Encode every language of ``parallel`` and compute per-layer metrics for ``pairs`` (default: all pairs).

    Returns the JSON-serialisable result (see the module docstring for the fields).
    """
    parallel = _check_parallel(parallel, "parallel sentences")
    langs = list(parallel)
    pairs = list(pairs) if pairs else list(itertools.combinations(langs, 2))
    for a, b in pairs:
        if a not in parallel or b not in parallel:
            raise ConfigError(f"pair {a}-{b} names a language without sentences")
    reps = {
        lang: pooled_representations(model, tokenizer, parallel[lang], batch_size=batch_size,
                                     max_length=max_length, device=device, desc=f"encoding {lang}",
                                     store_dtype=store_dtype)
        for lang in langs
    }
    n_layers = next(iter(reps.values())).shape[0]
    result_pairs = {f"{a}-{b}": pair_metrics(reps[a], reps[b], seed=seed) for a, b in pairs}
    mean_gap = [float(np.mean([p["gap"][layer] for p in result_pairs.values()])) for layer in range(n_layers)]
    mean_retrieval = [
        float(np.mean([(p["retrieval_a_to_b"][layer] + p["retrieval_b_to_a"][layer]) / 2
                       for p in result_pairs.values()]))
        for layer in range(n_layers)
    ]
    return {
        "languages": langs,
        "n_sentences": len(next(iter(parallel.values()))),
        "layers": list(range(n_layers)),
        "layer_names": ["embeddings"] + [f"block {i}" for i in range(1, n_layers)],
        "pooling": "mask-aware mean over real tokens (right padding)",
        "seed": seed,
        "chance_retrieval": 1.0 / len(next(iter(parallel.values()))),
        "pairs": result_pairs,
        "summary": {
            "mean_gap": mean_gap,
            "mean_retrieval": mean_retrieval,
            "best_layer_by_gap": int(np.argmax(mean_gap)),
            "best_layer_by_retrieval": int(np.argmax(mean_retrieval)),
        },
    }


def load_model_and_tokenizer(model_path: str, *, dtype: str = "float32", device: str | None = None,
                             trust_remote_code: bool = False) -> tuple[torch.nn.Module, Any]:
    """The base model (no LM head) and tokenizer of a local folder or Hub id."""
    from transformers import AutoModel, AutoTokenizer

    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ConfigError(f"unknown dtype {dtype!r}")
    require_model_path(model_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        model = AutoModel.from_pretrained(model_path, dtype=torch_dtype, trust_remote_code=trust_remote_code,
                                          use_safetensors=True)
    except OSError as exc:  # a folder without weights/tokenizer, an unknown Hub id, offline
        raise InputError(f"cannot load the model: {str(exc).splitlines()[0]}", path=model_path, field="model") from None
    if device:
        model.to(device)
    return model, tokenizer


# ----------------------------------------------------------------------------------------------------- outputs
def plot_alignment(result: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Heatmaps (layers × language pairs) of the cosine gap and of the mean two-way retrieval accuracy; PNG."""
    from coit_hf.analysis.plotting import pyplot, save_png

    plt = pyplot()
    names = list(result["pairs"])
    gap = np.array([result["pairs"][p]["gap"] for p in names]).T
    retr = np.array([[(a + b) / 2 for a, b in zip(result["pairs"][p]["retrieval_a_to_b"],
                                                  result["pairs"][p]["retrieval_b_to_a"], strict=True)]
                     for p in names]).T
    width = max(6.0, 0.45 * len(names) * 2 + 3)
    fig, axes = plt.subplots(1, 2, figsize=(width, 0.25 * gap.shape[0] + 2.5), dpi=110)
    for ax, values, title, cmap in ((axes[0], gap, "cosine gap (pairs − random)", "viridis"),
                                    (axes[1], retr, "top-1 retrieval (mean of both directions)", "magma")):
        im = ax.imshow(values, aspect="auto", origin="lower", cmap=cmap)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_ylabel("layer")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return save_png(fig, path)


def similarity_by_language(
    result: Mapping[str, Any], *, pivot: str = "en", layer: str | int = "best", measure: str = "gap"
) -> dict[str, float]:
    """Similarity term per language (to ``pivot``) from an alignment result, for the similarity-scaled law.

    ``layer``: an index, ``"middle"``, or ``"best"`` (largest mean gap); ``measure``: ``gap`` or ``pair_cosine``.
    """
    n_layers = len(result["layers"])
    if layer == "best":
        index = int(result["summary"]["best_layer_by_gap"])
    elif layer == "middle":
        index = n_layers // 2
    else:
        index = int(layer)
        if not -n_layers <= index < n_layers:
            raise ConfigError(f"layer {index} out of range (0..{n_layers - 1})")
    if measure not in ("gap", "pair_cosine"):
        raise ConfigError(f"measure must be 'gap' or 'pair_cosine', got {measure!r}")
    out: dict[str, float] = {}
    for name, metrics in result["pairs"].items():
        a, b = name.split("-", 1)
        if pivot in (a, b):
            out[b if a == pivot else a] = float(metrics[measure][index])
    if not out:
        raise ConfigError(f"the alignment result has no pair with the pivot {pivot!r}")
    return out


def write_result(result: Mapping[str, Any], output_dir: str | os.PathLike, *, plot: bool = True) -> dict[str, Path]:
    """Write ``alignment.json`` (and ``alignment.png``) into ``output_dir``; returns the paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path = output_dir / "alignment.json"
    write_json(json_path, dict(result), allow_nan=True)
    paths = {"json": json_path}
    if plot:
        paths["plot"] = plot_alignment(result, output_dir / "alignment.png")
    return paths
