"""A corpus rebuilt in the same folder must load the new rows, not the previous build's cached Arrow files."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

from coit_hf.data.loading import folder_fingerprint, load_corpus

README = """---
configs:
- config_name: general
  data_files:
  - split: train
    path: general/train-*.parquet
---
"""


def _write(folder, texts):
    (folder / "general").mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(README, encoding="utf-8")
    pq.write_table(pa.table({"text": texts}), folder / "general" / "train-00000-of-00001.parquet")


def test_rebuilt_local_corpus_is_not_served_from_a_stale_cache(tmp_path):
    folder = tmp_path / "coit-xx"
    _write(folder, ["a", "b"])
    first = load_corpus(folder, "general", split="train")
    assert first["text"] == ["a", "b"]
    before = folder_fingerprint(folder)
    _write(folder, ["c", "d", "e"])
    os.utime(folder / "general" / "train-00000-of-00001.parquet", ns=(1, 1))  # even with an older mtime
    assert folder_fingerprint(folder) != before
    second = load_corpus(folder, "general", split="train")
    assert second["text"] == ["c", "d", "e"]
