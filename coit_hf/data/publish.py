"""Publish a corpus folder to the Hugging Face Hub as a dataset repo (configs ``translation``, ``general``, ``all``).

The token comes only from the environment (``HF_TOKEN``) or the user's ``huggingface-cli login``; nothing here
writes one. Parquet shards go through the Hub's regular preupload decision (LFS for data files).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from coit_hf.errors import InputError

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("README.md",)


def check_corpus_folder(folder: str | os.PathLike[str]) -> Path:
    """Check that ``folder`` is a built corpus (README with ``configs:`` and Parquet for every config/split)."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, expected a corpus folder" if folder.exists() else "corpus folder not found"
        raise InputError(what, path=folder)
    readme = folder / "README.md"
    if not readme.is_file() or "configs:" not in readme.read_text(encoding="utf-8"):
        raise InputError("not a corpus folder: README.md with `configs:` is missing (run `coit-hf data build`)",
                         path=folder)
    from huggingface_hub import DatasetCard

    configs = DatasetCard.load(readme).data.to_dict().get("configs") or []
    declared = [(c.get("config_name"), f.get("split"), f.get("path")) for c in configs
                for f in c.get("data_files") or []]
    for config, split, patterns in declared or [("translation", "train", "translation/train-*.parquet")]:
        for pattern in [patterns] if isinstance(patterns, str) else patterns or []:
            if not list(folder.glob(pattern)):
                raise InputError(f"no Parquet files for {config}/{split} ({pattern})", path=folder)
    return folder


def push_corpus(folder: str | os.PathLike[str], repo_id: str, *, private: bool = False, revision: str | None = None,
                commit_message: str | None = None, token: str | None = None) -> str:
    """Upload a corpus folder to the dataset repo ``repo_id`` (created if missing); returns the commit URL.

    ``revision`` names a branch (created from main if it does not exist). ``token`` defaults to the environment /
    login; pass one only from your own secret store.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from coit_hf.hub.retry import call_with_retries, require_token

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise InputError(f"bad repo id {repo_id!r}: {exc}", field="repo") from None
    folder = check_corpus_folder(folder)
    require_token(token, what=f"pushing {folder} to {repo_id}")
    from coit_hf.data.card import REPORT_FILE, set_dataset_repo_id

    if (folder / REPORT_FILE).is_file():  # the pushed card's loading example names the repo it is pushed to
        set_dataset_repo_id(folder, repo_id)
    api = HfApi(token=token)
    target = f"dataset repo {repo_id}"
    call_with_retries(api.create_repo, repo_id, repo_type="dataset", private=private, exist_ok=True,
                      what=f"creating {target}")
    if revision is not None:
        call_with_retries(api.create_branch, repo_id, repo_type="dataset", branch=revision, exist_ok=True,
                          what=f"creating branch {revision} of {target}")
    # One commit holds every file: the Hub applies it whole or not at all, so a failure never leaves half a corpus.
    commit = call_with_retries(
        api.upload_folder, repo_id=repo_id, repo_type="dataset", folder_path=str(folder), revision=revision,
        commit_message=commit_message or f"Upload CoIT corpus {folder.name}",
        allow_patterns=["README.md", "build_report.json", "*/*.parquet"], what=f"uploading {folder} to {target}",
    )
    url = getattr(commit, "commit_url", None) or str(commit)
    logger.info("pushed %s to %s (%s)", folder, repo_id, url)
    return url
