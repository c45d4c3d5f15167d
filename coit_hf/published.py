"""Names that may appear in published files (cards, reports, results): Hub ids or relative names, never the
machine's paths; plus the project's own URL from the package metadata."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from pathlib import Path

from coit_hf.files import read_json, read_optional_json_object, replacing, write_json

logger = logging.getLogger(__name__)

HUB_ID_KEY = "repo_id"
"""Key under which a corpus (``build_report.json``) or model folder (``coit_card.json``) records its Hub id."""
RECORD_FILES = ("build_report.json", "coit_card.json")


def recorded_hub_id(folder: str | os.PathLike[str]) -> str | None:
    """The Hub id a local corpus or model folder was (or will be) published under, when it recorded one."""
    for name in RECORD_FILES:
        value = read_optional_json_object(Path(folder) / name).get(HUB_ID_KEY)
        if isinstance(value, str) and value:
            return value
    return None


def is_local_path(value: str) -> bool:
    """True for an absolute or home-relative path, or a relative one that exists here (else a Hub id or a name)."""
    return os.path.isabs(value) or value.startswith(("~", "./", "../")) or os.path.exists(value)


def public_name(value: str | os.PathLike[str] | None) -> str | None:
    """How a dataset or model is named in a published file: a Hub id as given; a local folder by the Hub id it
    recorded, else by its own (relative) name."""
    if value is None:
        return None
    text = str(value)
    if not text or not is_local_path(text):
        return text
    path = Path(text).expanduser()
    return recorded_hub_id(path) if path.is_dir() and recorded_hub_id(path) else path.resolve().name or text


def project_url() -> str | None:
    """The project's home page from the installed package metadata (``[project.urls]``); None when it has none."""
    try:
        meta = importlib.metadata.metadata("coit-hf")
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if url.strip().startswith("https://") and label.strip().lower() in ("homepage", "home", "repository", "source"):
            return url.strip()
    home = meta.get("Home-page")
    return home if home and home.startswith("https://") else None


def scrub_model_folder(folder: str | os.PathLike[str], base_model_id: str) -> list[str]:
    """Replace machine paths in a model folder about to be published: the adapter's ``base_model_name_or_path``
    becomes the card's base model id, ``training_args.bin``'s ``output_dir`` the folder's public name.

    Run it on the folder as published, after any local use (merging) that needs the local base path.
    Returns the names of the files changed.
    """
    folder = Path(folder)
    changed = []
    adapter = folder / "adapter_config.json"
    if adapter.is_file():
        config = read_json(adapter)
        base = config.get("base_model_name_or_path")
        if isinstance(base, str) and is_local_path(base):
            config["base_model_name_or_path"] = base_model_id
            write_json(adapter, config)
            changed.append(adapter.name)
    args_file = folder / "training_args.bin"
    if args_file.is_file():
        import torch

        # Trainer pickles its arguments (transformers' own format): reading them back needs weights_only=False.
        args = torch.load(args_file, weights_only=False)
        paths = {k: v for k, v in vars(args).items() if isinstance(v, str) and is_local_path(v)}
        if paths:
            for key, value in paths.items():
                setattr(args, key, public_name(value))
            with replacing(args_file) as tmp:
                torch.save(args, tmp)
            changed.append(args_file.name)
    if changed:
        logger.info("replaced local paths in %s: %s", folder, ", ".join(changed))
    return changed
