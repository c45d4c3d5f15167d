"""De-quantise a GGUF model into a normal safetensors folder usable as ``model_name_or_path``.

transformers loads GGUF files (``from_pretrained(dir, gguf_file=...)``) by de-quantising every tensor, but flags the
result as quantized (``hf_quantizer`` = GGUF) and ``Trainer`` refuses to train it. We rebuild a plain model from the
config without ``quantization_config``, copy the weights, and save it with its tokenizer and chat template plus a
``coit_hf_import.json`` that records where it came from (the card's ``base_model``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from coit_hf.errors import ConfigError, InputError
from coit_hf.files import read_json, replacing_folder, write_json

logger = logging.getLogger(__name__)

IMPORT_METADATA_FILE = "coit_hf_import.json"
"""Written into an imported folder: {gguf_file, gguf_name, base_model, dtype}."""

_DTYPES = ("bfloat16", "float16", "float32")


def _gguf_metadata(path: Path) -> dict[str, Any]:
    """General metadata fields of a GGUF file (name, organization, base model repo when recorded)."""
    from gguf import GGUFReader  # noqa: PLC0415 - optional extra

    reader = GGUFReader(str(path))
    meta: dict[str, Any] = {}
    for key in ("general.name", "general.organization", "general.basename", "general.size_label",
                "general.base_model.0.repo_url", "general.source.repo_url", "general.license"):
        field = reader.fields.get(key)
        if field is not None:
            try:
                meta[key] = field.contents()
            except Exception:  # noqa: BLE001 - a malformed optional field only loses card metadata
                logger.debug("cannot read GGUF field %s", key)
    return meta


def _base_model_from_metadata(meta: dict[str, Any]) -> str | None:
    """A Hub id from a GGUF's recorded base-model/source URL, when it names one."""
    for key in ("general.base_model.0.repo_url", "general.source.repo_url"):
        url = meta.get(key)
        if isinstance(url, str) and "huggingface.co/" in url:
            return url.split("huggingface.co/", 1)[1].strip("/")
    return None


def import_gguf(
    gguf_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    dtype: str = "bfloat16",
    base_model_id: str | None = None,
    overwrite: bool = False,
) -> Path:
    """De-quantise ``gguf_path`` and save model (safetensors), tokenizer and chat template to ``out_dir``.

    Args:
        gguf_path: the ``.gguf`` file.
        out_dir: folder to create (written to a temporary sibling first, then renamed).
        dtype: weight dtype of the saved model (``bfloat16``, ``float16`` or ``float32``).
        base_model_id: Hub id of the original model, recorded for model cards (default: from GGUF metadata).
        overwrite: replace an existing ``out_dir``.

    Returns:
        The output folder.
    """
    import torch  # noqa: PLC0415 - heavy import only when used
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    gguf_path = Path(gguf_path)
    out = Path(out_dir)
    if gguf_path.is_dir():
        raise InputError("is a folder, expected a .gguf file (name the file inside it)", path=gguf_path)
    if not gguf_path.is_file():
        raise InputError("GGUF file not found", path=gguf_path)
    if dtype not in _DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty (pass overwrite=True / --overwrite)")
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        meta = _gguf_metadata(gguf_path)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (ValueError, OSError, KeyError) as exc:
        raise InputError(f"cannot load as a GGUF causal LM: {exc}", path=gguf_path) from exc

    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)
    for key in ("_name_or_path", "_model_name_or_path"):  # the GGUF display name is not a model id
        config_dict.pop(key, None)
    config = AutoConfig.for_model(**config_dict)
    config.dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    # Tied output embeddings are not separate entries in the state dict.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise InputError(f"weights do not match the architecture (missing {missing[:5]}, unexpected {unexpected[:5]})",
                         path=gguf_path)
    model.generation_config = quantized.generation_config
    model = model.to(getattr(torch, dtype))
    del quantized

    with replacing_folder(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        metadata = {
            "gguf_file": name,
            "gguf_name": meta.get("general.name"),
            "base_model": base_model_id or _base_model_from_metadata(meta),
            "dtype": dtype,
        }
        write_json(tmp / IMPORT_METADATA_FILE, metadata)
    logger.info("imported %s -> %s (%s)", gguf_path, out, dtype)
    return out


def read_import_metadata(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``coit_hf_import.json`` of a folder written by :func:`import_gguf`, or None."""
    path = Path(model_dir) / IMPORT_METADATA_FILE
    if not path.is_file():
        return None
    return read_json(path)
