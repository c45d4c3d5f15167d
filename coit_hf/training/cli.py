"""`coit-hf model ...`: model utilities of the training stage (GGUF import, card, adapter merge)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``model import-gguf`` to the top-level parser."""
    model = subparsers.add_parser("model", help="Model utilities: import a GGUF file as a trainable model.")
    model_sub = model.add_subparsers(dest="model_command", metavar="MODEL_COMMAND")
    imp = model_sub.add_parser(
        "import-gguf",
        help="De-quantise a GGUF model to a safetensors folder (model, tokenizer, chat template) for training.",
    )
    imp.add_argument("file", help="The .gguf file.")
    imp.add_argument("--out", required=True, help="Output folder (usable as model_name_or_path).")
    imp.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"],
                     help="Weight dtype of the saved model (default: bfloat16).")
    imp.add_argument("--base-model-id", default=None,
                     help="Hub id of the original model, recorded for model cards (default: from GGUF metadata).")
    imp.add_argument("--overwrite", action="store_true", help="Replace a non-empty output folder.")
    imp.set_defaults(func=_import_gguf)
    card = model_sub.add_parser(
        "card", help="Re-render a trained model folder's card with evaluation results and images (plots).",
    )
    card.add_argument("folder", help="Output folder of recipes/sft_coit.py (holds README.md and coit_card.json).")
    card.add_argument("--eval-results", help="coit_results.json (or its folder) from `coit-hf eval`.")
    card.add_argument("--attach", action="append", default=[], metavar="TITLE=PATH",
                      help="An image to show on the card, e.g. 'Scaling fit=scaling/plots/scaling_zh.png'.")
    card.add_argument("--comparison", help="Output folder of `coit-hf compare` (win rates per language; this model = A).")
    card.add_argument("--alignment", help="Output folder of `coit-hf align` (several models: the before/after "
                      "comparison; one model: its alignment by layer).")
    card.add_argument("--repo-id", help="Hub id the model is published under (named in the model-index source).")
    card.set_defaults(func=_card)
    merge = model_sub.add_parser(
        "merge", help="Merge a LoRA adapter folder into its base model (one process; after a multi-GPU run).",
    )
    merge.add_argument("adapter_dir", help="Output folder of a LoRA run (adapter_config.json + adapter weights).")
    merge.add_argument("--out", required=True, help="Folder for the merged full model (tokenizer and card included).")
    merge.add_argument("--base-model", default=None,
                       help="Base model folder or Hub id (default: the adapter's base_model_name_or_path).")
    merge.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"],
                       help="Weight dtype of the merged model (default: the base model's).")
    merge.add_argument("--overwrite", action="store_true", help="Replace a non-empty output folder.")
    merge.set_defaults(func=_merge)


def _import_gguf(args: argparse.Namespace) -> int:
    from coit_hf.training.gguf_import import import_gguf  # noqa: PLC0415 - keep `coit-hf --help` fast

    out = import_gguf(args.file, args.out, dtype=args.dtype, base_model_id=args.base_model_id,
                      overwrite=args.overwrite)
    print(out)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from coit_hf.training.merge import merge_adapter_folder  # noqa: PLC0415 - keep `coit-hf --help` fast

    print(merge_adapter_folder(args.adapter_dir, args.out, base_model=args.base_model, dtype=args.dtype,
                               overwrite=args.overwrite))
    return 0


def _card(args: argparse.Namespace) -> int:
    from coit_hf.hub.cards import (  # noqa: PLC0415 - keep `coit-hf --help` fast
        CardAttachment,
        parse_attachments,
        update_model_card,
    )

    attachments = parse_attachments(args.attach)
    sections = []
    if args.alignment:
        from coit_hf.analysis.card import alignment_card_section  # noqa: PLC0415

        section, images = alignment_card_section(args.alignment)
        sections.append(section)
        attachments += [CardAttachment(title, path) for title, path in images]
    print(update_model_card(args.folder, eval_results=args.eval_results, attachments=attachments,
                            comparison=args.comparison, sections=sections, repo_id=args.repo_id))
    return 0
