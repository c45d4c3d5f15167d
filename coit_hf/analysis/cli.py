"""`coit-hf align`: layer-wise representation alignment of parallel sentences."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from coit_hf.errors import ConfigError
from coit_hf.files import parse_key_values

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``align`` sub-command."""
    parser = subparsers.add_parser(
        "align",
        help="Layer-wise alignment of parallel sentences (cosine of translations vs random pairs, retrieval).",
        description="Mean-pool each layer's hidden states over real tokens for parallel sentences and report, per "
        "layer and language pair, the mean cosine of translation pairs and of random pairs, their gap and top-1 "
        "retrieval accuracy in both directions. Writes alignment.json and alignment.png. With several --model "
        "(the first is the reference, e.g. the base model) each model's result goes to OUTPUT_DIR/<label>/ and "
        "alignment_compare.json/.png draw them on the same layer axes with the layers that gained most; --compare "
        "does the same from existing alignment.json results.",
    )
    parser.add_argument("--model", action="append",
                        help="Model folder or Hub id; repeat to compare models on the same sentences.")
    parser.add_argument("--label", action="append", help="Name of each --model / --compare entry, in order "
                        "(default: the Hub id or folder name).")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--jsonl", help="JSONL with one object per segment keyed by language (e.g. UDHR 7-way).")
    src.add_argument("--flores-dir", help="Flores-style folder with <code>.<split> files.")
    src.add_argument("--files", action="append", metavar="LANG=PATH", help="One sentence-per-line file per language.")
    src.add_argument("--dataset", help="Hub dataset id or local dataset folder with one column per language.")
    src.add_argument("--compare", nargs="+", metavar="RESULT",
                     help="Compare existing alignment results (alignment.json or its folder; the first is the reference).")
    parser.add_argument("--langs", help="Comma-separated languages (default: all in the input).")
    parser.add_argument("--split", default="devtest", help="Flores / dataset split (default devtest).")
    parser.add_argument("--dataset-config", help="Dataset config name.")
    parser.add_argument("--column", action="append", metavar="LANG=COLUMN", help="Dataset column per language.")
    parser.add_argument("--pivot", help="Only pairs with this language (default: all pairs).")
    parser.add_argument("--max-sentences", type=int, help="Use the first N sentences.")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--dtype", default="float32", help="Model dtype (float32, bfloat16, float16).")
    parser.add_argument("--store-dtype", default="float32", choices=["float32", "float16"],
                        help="dtype of the kept pooled vectors (float16 halves memory for large models/many sentences).")
    parser.add_argument("--device", help="Device (default: the model's, CPU unless loaded elsewhere).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random (non-translation) pairs.")
    parser.add_argument("--trust-remote-code", action="store_true", help="Allow custom model code (off by default).")
    parser.add_argument("--output-dir", required=True, help="Writes alignment.json and alignment.png here.")
    parser.set_defaults(func=run_align)


def _pairs(items: list[str] | None, name: str) -> dict[str, str]:
    return parse_key_values(items, f"--{name}", form="LANG=VALUE")


def _check_options(args: argparse.Namespace) -> None:
    """Numbers, dtype and output folder, checked before any input or model is read."""
    from coit_hf.files import require_output_dir

    for option, value, minimum in (("--max-sentences", args.max_sentences, 2), ("--batch-size", args.batch_size, 1),
                                   ("--max-length", args.max_length, 1), ("--seed", args.seed, 0)):
        if value is not None and value < minimum:
            raise ConfigError(f"{option} must be >= {minimum}, got {value}")
    import torch

    if not isinstance(getattr(torch, args.dtype, None), torch.dtype):
        raise ConfigError(f"--dtype {args.dtype!r} is not a dtype; use float32, bfloat16 or float16")
    require_output_dir(args.output_dir)


def _labels(args: argparse.Namespace, names: list[str]) -> list[str]:
    from coit_hf.published import public_name

    labels = list(args.label or [])
    if labels and len(labels) != len(names):
        raise ConfigError(f"--label given {len(labels)} times for {len(names)} models")
    labels = labels or [public_name(n.rstrip("/")) or n for n in names]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"model labels must differ, got {', '.join(labels)} (name them with --label)")
    return labels


def run_align(args: argparse.Namespace) -> int:
    """Load inputs and model(s), compute the alignment, write JSON + PNG, print a per-layer summary; with several
    models (or --compare) also the comparison figure and numbers."""
    from coit_hf.analysis import compare as cmp

    if args.compare:
        if args.model:
            raise ConfigError("--compare draws existing results: give it without --model")
        labels = _labels(args, [str(p) for p in args.compare])
        comparison = cmp.compare_alignments({lab: cmp.load_alignment(p) for lab, p in zip(labels, args.compare,
                                                                                        strict=True)})
        return _report_comparison(comparison, args.output_dir)
    if not args.model:
        raise ConfigError("give --model (repeat it to compare models) or --compare RESULT...")
    if not (args.jsonl or args.flores_dir or args.files or args.dataset):
        raise ConfigError("give the parallel sentences: --jsonl, --flores-dir, --files or --dataset")
    labels = _labels(args, args.model)
    parallel = _load_parallel(args)
    results = {}
    for label, model in zip(labels, args.model, strict=True):
        out = Path(args.output_dir) / label if len(args.model) > 1 else Path(args.output_dir)
        results[label] = _align_one(args, model, parallel, out)
    if len(results) > 1:
        return _report_comparison(cmp.compare_alignments(results), args.output_dir)
    return 0


def _report_comparison(comparison: dict, output_dir: str) -> int:
    from coit_hf.analysis import compare as cmp

    paths = cmp.write_comparison(comparison, output_dir)
    print(cmp.format_comparison(comparison))
    print(f"wrote {paths['json']} and {paths['plot']}")
    return 0


def _load_parallel(args: argparse.Namespace) -> dict[str, list[str]]:
    from coit_hf.analysis import alignment as al

    _check_options(args)
    langs = [x.strip() for x in args.langs.split(",") if x.strip()] if args.langs else None
    if args.jsonl:
        parallel = al.load_parallel_jsonl(args.jsonl, langs)
    elif args.flores_dir:
        if not langs:
            raise ConfigError("--flores-dir needs --langs")
        parallel = al.load_flores_dir(args.flores_dir, langs, args.split)
    elif args.files:
        files = _pairs(args.files, "files")
        parallel = al.load_text_files({k: files[k] for k in (langs or files)})
    else:
        if not langs:
            raise ConfigError("--dataset needs --langs")
        parallel = al.load_hub_parallel(args.dataset, langs, config=args.dataset_config, split=args.split,
                                        columns=_pairs(args.column, "column"))
    if args.max_sentences is not None:
        parallel = {k: v[: args.max_sentences] for k, v in parallel.items()}
    return parallel


def _align_one(args: argparse.Namespace, model_path: str, parallel: dict[str, list[str]], out: Path) -> dict:
    import torch

    from coit_hf.analysis import alignment as al
    from coit_hf.published import public_name

    pairs = None
    if args.pivot:
        if args.pivot not in parallel:
            raise ConfigError(f"--pivot {args.pivot} is not among the languages {', '.join(parallel)}")
        pairs = [(args.pivot, lang) for lang in parallel if lang != args.pivot]
    model, tokenizer = al.load_model_and_tokenizer(model_path, dtype=args.dtype, device=args.device,
                                                   trust_remote_code=args.trust_remote_code)
    result = al.compute_alignment(model, tokenizer, parallel, pairs=pairs, batch_size=args.batch_size,
                                  max_length=args.max_length, seed=args.seed, device=args.device,
                                  store_dtype=getattr(torch, args.store_dtype))
    result["model"] = public_name(model_path)
    source = args.jsonl or args.flores_dir or args.dataset
    result["source"] = public_name(source) if source else [f"{k}={public_name(v)}" for k, v in
                                                          _pairs(args.files, "files").items()]
    paths = al.write_result(result, out)
    summary = result["summary"]
    print(f"{public_name(model_path)}:\n{'layer':<8}{'mean gap':>10}{'retrieval':>11}")
    for layer, (gap, retr) in enumerate(zip(summary["mean_gap"], summary["mean_retrieval"], strict=True)):
        print(f"{layer:<8}{gap:>10.4f}{retr:>11.3f}")
    print(f"best layer by gap: {summary['best_layer_by_gap']}; chance retrieval {result['chance_retrieval']:.4f}")
    print(f"wrote {paths['json']} and {paths.get('plot')}")
    return result
