"""A tiny Llama-architecture causal LM with a multilingual byte-level BPE tokenizer, built from text in seconds.

Used by the test fixtures (``tiny_model_dir``) and by ``coit-hf demo --tiny``: a real model folder (safetensors,
config, generation config, fast tokenizer with the coit ChatML template) that every stage can load with
``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained``, small enough to train on a CPU.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from coit_hf.errors import InputError
from coit_hf.files import iter_jsonl, read_json, replacing_folder

logger = logging.getLogger(__name__)

BOS, EOS, PAD, IM_START, IM_END = "<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (BOS, EOS, PAD, IM_START, IM_END)


def collect_texts(paths: Iterable[str | Path], *, max_contexts_per_file: int | None = 40) -> list[str]:
    """Read training text from files or folders (searched recursively, in sorted order).

    Understands ``*.jsonl`` (every string value of every record, e.g. the UDHR 7-way file), SQuAD-shaped ``*.json``
    (XQuAD/MLQA: paragraph contexts and their questions, at most ``max_contexts_per_file`` contexts per file) and
    ``*.txt`` (non-empty lines). Returns the texts in a deterministic order.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".json", ".txt")))
        elif path.exists():
            files.append(path)
        else:
            raise InputError("text source does not exist", path=str(path))
    texts: list[str] = []
    for file in files:
        if file.suffix == ".jsonl":
            for _, record in iter_jsonl(file):
                texts.extend(v for v in record.values() if isinstance(v, str) and v.strip())
        elif file.suffix == ".json":
            data = read_json(file)
            paragraphs = [p for article in data.get("data", []) for p in article.get("paragraphs", [])]
            for paragraph in paragraphs[:max_contexts_per_file]:
                texts.append(paragraph["context"])
                texts.extend(qa["question"] for qa in paragraph.get("qas", []))
        else:
            texts.extend(line for line in file.read_text(encoding="utf-8").splitlines() if line.strip())
    return texts


def train_tokenizer(texts: Sequence[str], *, vocab_size: int = 3000, model_max_length: int = 512):
    """Train a byte-level BPE tokenizer (NFC-normalised) on ``texts``; returns a ``PreTrainedTokenizerFast``.

    Special tokens: ``<s>`` (bos), ``</s>`` (eos), ``<pad>`` (pad), ``<|im_start|>``, ``<|im_end|>``; the chat
    template is coit's ChatML. No BOS is added on encode (ChatML models such as Qwen work that way).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from coit_hf.templates import load_chat_template

    if not texts:
        raise InputError("no text to train the tokenizer on")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens=[IM_START, IM_END],
        model_max_length=model_max_length,
        chat_template=load_chat_template("chatml"),
    )


def build_tiny_model(
    out_dir: str | Path,
    texts: Sequence[str],
    *,
    vocab_size: int = 3000,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 4,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 172,
    max_position_embeddings: int = 512,
    overwrite: bool = False,
) -> Path:
    """Build and save a tiny Llama causal LM with a tokenizer trained on ``texts``; return ``out_dir``.

    Deterministic for the same texts and arguments (same weights, same tokenizer). The folder holds safetensors
    weights, ``config.json``, ``generation_config.json`` (eos = ``</s>`` and ``<|im_end|>``, pad = ``<pad>``) and the
    tokenizer files. It is written to a temporary sibling and renamed, so it never exists half-written. An existing
    non-empty ``out_dir`` is an error unless ``overwrite``.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise InputError("output folder exists and is not empty (pass overwrite=True)", path=str(out_dir))
    start = time.perf_counter()
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size, model_max_length=max_position_embeddings)
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[PAD],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids[BOS], eos_token_id=[ids[EOS], ids[IM_END]], pad_token_id=ids[PAD]
    )
    with replacing_folder(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    logger.info(
        "built tiny model (%d parameters, vocab %d) in %s in %.1fs",
        model.num_parameters(), len(tokenizer), out_dir, time.perf_counter() - start,
    )
    return out_dir
