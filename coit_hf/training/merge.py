"""Merge a trained LoRA adapter into its base model (``coit-hf model merge``), in one process.

Merging inside a multi-process launch would load the full base model on one rank while ZeRO-3's ``zero.Init``
expects every rank to join, so multi-process runs save the adapter and are merged afterwards with this.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from coit_hf.errors import InputError
from coit_hf.files import read_json, replacing_folder

logger = logging.getLogger(__name__)

_ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")


def check_adapter_folder(adapter_dir: Path) -> dict:
    """The adapter's ``adapter_config.json``; an error names what is missing."""
    if not adapter_dir.is_dir():
        raise InputError("not a folder" if adapter_dir.exists() else "no such folder", path=adapter_dir)
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise InputError("no adapter_config.json: not a LoRA adapter folder (a full model needs no merge)",
                         path=adapter_dir)
    if not any((adapter_dir / name).is_file() for name in _ADAPTER_FILES):
        raise InputError(f"no adapter weights ({' or '.join(_ADAPTER_FILES)})", path=adapter_dir)
    config = read_json(config_path)
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if not base:
        raise InputError("adapter_config.json names no base_model_name_or_path", path=config_path)
    return config


def merge_adapter_folder(adapter_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                         base_model: str | None = None, dtype: str = "auto", overwrite: bool = False) -> Path:
    """Merge ``adapter_dir`` into its base model and save model, tokenizer and card to ``out_dir``.

    ``base_model`` overrides the adapter's recorded base (e.g. the base moved). The merged weights are checked
    finite; the output is written to a temporary sibling and renamed, so it never exists half-written.
    """
    import torch  # noqa: PLC0415 - heavy imports only when merging
    from peft import PeftModel  # noqa: PLC0415
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    from coit_hf.training.guard import check_weights_finite  # noqa: PLC0415

    adapter, out = Path(adapter_dir), Path(out_dir)
    config = check_adapter_folder(adapter)
    if out.exists() and not out.is_dir():
        raise InputError("--out is a file, not a folder", path=out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError("output folder exists and is not empty (pass --overwrite to replace it)", path=out)
    if out.resolve() == adapter.resolve():
        raise InputError("--out must differ from the adapter folder", path=out)
    base = base_model or config["base_model_name_or_path"]
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load the base model {base!r}: {str(exc).splitlines()[0]} (pass --base-model)",
                         path=adapter / "adapter_config.json", field="base_model_name_or_path") from None
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # rows come from the adapter's modules_to_save
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    check_weights_finite(merged)
    with replacing_folder(out) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _write_merged_card(adapter, tmp)
    logger.info("merged adapter %s into %s -> %s", adapter, base, out)
    return out


def _write_merged_card(adapter: Path, folder: Path) -> None:
    """The adapter's coit-hf card, re-rendered for a full model (nothing when the adapter has none)."""
    from coit_hf.hub.cards import CARD_STATE, read_card_info, write_model_card  # noqa: PLC0415

    if not (adapter / CARD_STATE).is_file():
        return
    info = read_card_info(adapter)
    write_model_card(dataclasses.replace(info, is_adapter=False), folder)
