"""Source specs of the paper's public corpora (used by ``dataset_scripts/``; they need the Hub to run).

The Hub ids and field layouts are defaults, overridable by every function's arguments, since mirrors move.
"""

from __future__ import annotations

from pathlib import Path

from coit_hf.data.sources import SourceSpec

NEWS_COMMENTARY_ID = "Helsinki-NLP/news_commentary"
"""OPUS News-Commentary on the Hub (Parquet; configs are language pairs in alphabetical order, ``translation`` layout)."""
WIKIMATRIX_ID = "sentence-transformers/parallel-sentences-wikimatrix"
"""WikiMatrix on the Hub (Parquet; configs ``en-<x>``; columns ``english`` / ``non_english``)."""
ALPACA_EN_ID = "tatsu-lab/alpaca"
"""Stanford Alpaca (English; CC BY-NC 4.0)."""


def news_commentary_source(lang: str, *, dataset_id: str = NEWS_COMMENTARY_ID, revision: str | None = None,
                           max_rows: int | None = None) -> SourceSpec:
    """English→``lang`` News-Commentary pairs (streamed from the Hub)."""
    config = "-".join(sorted(("en", lang)))
    return SourceSpec(type="hf", path=dataset_id, name=config, split="train", revision=revision, src_lang="en",
                      tgt_lang=lang, license="CC-BY-NC-SA-3.0 (OPUS News-Commentary)", max_rows=max_rows,
                      display_name=f"{dataset_id}/{config}")


def wikimatrix_source(lang: str, *, dataset_id: str = WIKIMATRIX_ID, revision: str | None = None,
                      max_rows: int | None = None, src_field: str = "english",
                      tgt_field: str = "non_english") -> SourceSpec:
    """English→``lang`` WikiMatrix pairs (streamed from the Hub)."""
    return SourceSpec(type="hf", path=dataset_id, name=f"en-{lang}", split="train", revision=revision,
                      src_lang="en", tgt_lang=lang, src_field=src_field, tgt_field=tgt_field,
                      license="CC-BY-SA-4.0 (WikiMatrix)", max_rows=max_rows, display_name=f"{dataset_id}/en-{lang}")


def alpaca_source(lang: str, location: str, *, license: str = "CC-BY-NC-4.0", revision: str | None = None,
                  max_rows: int | None = None) -> SourceSpec:
    """Alpaca-format instruction data in ``lang``: a local JSON/JSONL file, or a Hub dataset id."""
    if Path(location).is_file():
        return SourceSpec(type="alpaca", path=location, lang=lang, license=license, max_rows=max_rows)
    return SourceSpec(type="hf", kind="instruction", path=location, split="train", revision=revision, lang=lang,
                      license=license, max_rows=max_rows, subset=f"alpaca_{lang}")
