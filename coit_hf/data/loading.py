"""``load_dataset`` for corpora given as a local folder or a Hub id, safe against stale caches.

datasets 5.2 keys the Arrow cache of a local Parquet folder by the folder name and config only — not by the files'
names, sizes or times — so a corpus rebuilt in the same folder would load the previous build's rows. For local
folders we therefore put the cache under a fingerprint of the folder's files.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """Hash of the relative names, sizes and modification times of every file under ``folder``."""
    root = Path(folder)
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def load_corpus(path: str | os.PathLike[str], name: str | None = None, **kwargs: Any):
    """``datasets.load_dataset(path, name, **kwargs)``; a local folder gets a cache keyed by its content."""
    import datasets

    if os.path.isdir(path) and "cache_dir" not in kwargs and not kwargs.get("streaming"):
        base = Path(datasets.config.HF_DATASETS_CACHE) / "coit_local" / folder_fingerprint(path)
        kwargs["cache_dir"] = str(base)
    return datasets.load_dataset(str(path), name, **kwargs)
