"""Push a trained model folder (full model, LoRA adapter, or merged adapter) with its card to the Hub."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.utils import HFValidationError, validate_repo_id

from coit_hf.errors import InputError
from coit_hf.hub.retry import call_with_retries, require_token

logger = logging.getLogger(__name__)

IGNORE_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "_*", "runs/**", ".*", "merged/**"]


def push_folder(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str = "Upload CoIT model",
) -> str:
    """Create ``repo_id`` if needed (and branch ``revision``) and upload ``folder`` without checkpoints.

    Call on the main process only. Returns the commit URL.
    """
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise InputError(f"bad repo id {repo_id!r}: {exc}", field="repo_id") from None
    require_token(token, what=f"pushing {folder} to {repo_id}")
    api = HfApi(token=token)
    call_with_retries(api.create_repo, repo_id, repo_type="model", private=private, exist_ok=True,
                      what=f"creating model repo {repo_id}")
    if revision and revision != "main":
        call_with_retries(api.create_branch, repo_id, branch=revision, exist_ok=True,
                          what=f"creating branch {revision} of {repo_id}")
    # one commit with every file: the Hub applies it whole or not at all
    info = call_with_retries(
        api.upload_folder,
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message=commit_message,
        revision=revision,
        ignore_patterns=IGNORE_PATTERNS,
        what=f"uploading {folder} to {repo_id}",
    )
    logger.info("pushed %s to %s", folder, repo_id)
    return str(getattr(info, "commit_url", info))


def merge_adapter(adapter_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, dtype: str = "auto") -> Path:
    """Merge a saved LoRA adapter into its base model and save the full model + tokenizer to ``out_dir``."""
    from peft import AutoPeftModelForCausalLM  # noqa: PLC0415 - heavy import only when merging
    from transformers import AutoTokenizer  # noqa: PLC0415

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype=dtype, use_safetensors=True)
    merged = model.merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out)
    logger.info("merged adapter %s -> %s", adapter_dir, out)
    return out
