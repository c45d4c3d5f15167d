"""Source specs of the paper's public corpora (used by ``dataset_scripts/``; they need the Hub to run).

Repos that still hold a loading script are read by explicit ``hf://datasets/<repo>@<revision>/<file>`` paths with the
generic ``parquet``/``json`` builder (``datasets`` >= 4 refuses such repos by id). A language a source does not cover
fails when the spec is built, before any download, naming the languages it has. Hub ids, revisions and layouts are
defaults, overridable by every function's arguments, since mirrors move.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from coit_hf.data.sources import SourceSpec
from coit_hf.errors import ConfigError

NEWS_COMMENTARY_ID = "Helsinki-NLP/news_commentary"
"""OPUS News-Commentary on the Hub (Parquet; configs are language pairs in alphabetical order, ``translation`` layout)."""
# Twelve languages, all pairs: ar cs de en es fr it ja nl pt ru zh ("Convert dataset to Parquet (#3)" tree,
# https://huggingface.co/datasets/Helsinki-NLP/news_commentary/tree/bbaf548083e788e0e6d2ca68efc325283fe2aff5, verified;
# ar-en and en-zh folders verified, the other en pairs by the all-pairs layout). Of the paper's six: only ar and zh.
NEWS_COMMENTARY_LANGUAGES = ("ar", "cs", "de", "es", "fr", "it", "ja", "nl", "pt", "ru", "zh")
WIKIMATRIX_ID = "sentence-transformers/parallel-sentences-wikimatrix"
"""WikiMatrix on the Hub (Parquet; configs ``en-<x>``; columns ``english`` / ``non_english``)."""
# Folders en-ar, en-el, en-hi (tree .../parallel-sentences-wikimatrix/tree/ae72ef667c4bbc6243e81150109c20e24fcc6366),
# en-tr (tree .../tree/refs%2Fconvert%2Fparquet/en-tr), vi and zh (README language list at 74a4cb1): verified. The
# repo has 35+ other pairs, not listed here.
WIKIMATRIX_LANGUAGES = ("ar", "el", "hi", "tr", "vi", "zh")
# Parquet data/train-*.parquet, loaded by id (no script): layout not re-checked against a stored Hub page (unverified).
ALPACA_EN_ID = "tatsu-lab/alpaca"
"""Stanford Alpaca (English; CC BY-NC 4.0)."""

OPUS100_ID = "Helsinki-NLP/opus-100"
"""OPUS-100 (Parquet on main since "Convert dataset to Parquet (#5)"; ``translation`` layout)."""
# Main's head "Update dataset card (#6)"; layout <pair>/{train,validation,test}-00000-of-00001.parquet, pairs in
# alphabetical order (https://huggingface.co/datasets/Helsinki-NLP/opus-100/tree/805090dc28bf78897da9641cdf08b61287580df9/en-he
# and .../tree/refs%2Fpr%2F6/el-en, verified).
OPUS100_REVISION = "805090dc28bf78897da9641cdf08b61287580df9"
# English-centric pairs for the paper's languages: el-en and ar-en seen in the tree pages above (verified); en-hi,
# en-tr, en-vi, en-zh from the dataset card's config list (unverified here). OPUS-100 has 99 languages, not listed.
OPUS100_LANGUAGES = ("ar", "el", "hi", "tr", "vi", "zh")

BACTRIAN_X_ID = "MBZUAI/Bactrian-X"
"""Bactrian-X: Alpaca + Dolly translated into 51 languages (CC BY-NC 4.0). Main holds Bactrian-X.py, so read by path."""
# "data/{lang}.json.gz" since commit 3698480 moved every file under data/
# (https://huggingface.co/datasets/MBZUAI/Bactrian-X/commit/3698480a001cb3f62c61c314d4acb181eb31e983, verified).
BACTRIAN_X_REVISION = "3698480a001cb3f62c61c314d4acb181eb31e983"
# LANGS of Bactrian-X.py (https://huggingface.co/datasets/MBZUAI/Bactrian-X/commit/a697dfbafed22893f66b532a45036dfc86c3da1d,
# verified): no Greek.
BACTRIAN_X_LANGUAGES = (
    "af", "ar", "az", "bn", "cs", "de", "en", "es", "et", "fa", "fi", "fr", "gl", "gu", "he", "hi", "hr", "id", "it",
    "ja", "ka", "kk", "km", "ko", "lt", "lv", "mk", "ml", "mn", "mr", "my", "ne", "nl", "pl", "ps", "pt", "ro", "ru",
    "si", "sl", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "xh", "zh",
)


def hf_url(repo: str, revision: str, path: str) -> str:
    """``hf://datasets/<repo>@<revision>/<path>`` (a ``refs/...`` revision percent-encoded, as HfFileSystem reads it)."""
    return f"hf://datasets/{repo}@{quote(revision, safe='')}/{path}"


def require_language(source: str, lang: str, languages: tuple[str, ...], hint: str = "") -> None:
    """Raise ConfigError when ``source`` has no ``lang``, naming the languages it has (checked before any download)."""
    if lang not in languages:
        raise ConfigError(f"{source} has no English-{lang} data; it has: {', '.join(languages)}{hint}")


def news_commentary_source(lang: str, *, dataset_id: str = NEWS_COMMENTARY_ID, revision: str | None = None,
                           max_rows: int | None = None) -> SourceSpec:
    """English→``lang`` News-Commentary pairs (streamed from the Hub)."""
    if dataset_id == NEWS_COMMENTARY_ID:
        require_language(dataset_id, lang, NEWS_COMMENTARY_LANGUAGES,
                         "; use WikiMatrix and OPUS-100 (build_wikimatrix.py, build_opus100.py) for other languages")
    config = "-".join(sorted(("en", lang)))
    return SourceSpec(type="hf", path=dataset_id, name=config, split="train", revision=revision, src_lang="en",
                      tgt_lang=lang, license="CC-BY-NC-SA-3.0 (OPUS News-Commentary)", max_rows=max_rows,
                      display_name=f"{dataset_id}/{config}")


def wikimatrix_source(lang: str, *, dataset_id: str = WIKIMATRIX_ID, revision: str | None = None,
                      max_rows: int | None = None, src_field: str = "english",
                      tgt_field: str = "non_english") -> SourceSpec:
    """English→``lang`` WikiMatrix pairs (streamed from the Hub)."""
    if dataset_id == WIKIMATRIX_ID:
        require_language(dataset_id, lang, WIKIMATRIX_LANGUAGES)
    return SourceSpec(type="hf", path=dataset_id, name=f"en-{lang}", split="train", revision=revision,
                      src_lang="en", tgt_lang=lang, src_field=src_field, tgt_field=tgt_field,
                      license="CC-BY-SA-4.0 (WikiMatrix)", max_rows=max_rows, display_name=f"{dataset_id}/en-{lang}")


def opus100_source(lang: str, *, split: str = "train", dataset_id: str = OPUS100_ID, revision: str = OPUS100_REVISION,
                   max_rows: int | None = None) -> SourceSpec:
    """English→``lang`` OPUS-100 pairs: the pair's Parquet file read by ``hf://`` path (streamed)."""
    if dataset_id == OPUS100_ID:
        require_language(dataset_id, lang, OPUS100_LANGUAGES)
    pair = "-".join(sorted(("en", lang)))
    url = hf_url(dataset_id, revision, f"{pair}/{split}-00000-of-00001.parquet")
    return SourceSpec(type="hf", path="parquet", data_files={split: url}, split=split, src_lang="en", tgt_lang=lang,
                      license="unknown (OPUS-100; see the OPUS corpora it samples)", max_rows=max_rows,
                      display_name=f"{dataset_id}/{pair}")


def bactrian_x_source(lang: str, *, dataset_id: str = BACTRIAN_X_ID, revision: str = BACTRIAN_X_REVISION,
                      max_rows: int | None = None) -> SourceSpec:
    """Alpaca (+ Dolly) translated into ``lang`` from Bactrian-X: ``data/{lang}.json.gz`` read by ``hf://`` path."""
    if dataset_id == BACTRIAN_X_ID:
        require_language(dataset_id, lang, BACTRIAN_X_LANGUAGES,
                         "; give a translated Alpaca file instead (--alpaca-x data/alpaca_el.json, JSON/JSONL rows "
                         "with instruction/input/output, e.g. an export of ilivieris/Greek_GPT_data)")
    url = hf_url(dataset_id, revision, f"data/{lang}.json.gz")
    return SourceSpec(type="hf", kind="instruction", path="json", data_files={"train": url}, split="train", lang=lang,
                      license="CC-BY-NC-4.0 (Bactrian-X)", max_rows=max_rows, subset=f"alpaca_{lang}",
                      display_name=f"{dataset_id}/{lang}")


def alpaca_source(lang: str, location: str, *, license: str = "CC-BY-NC-4.0", revision: str | None = None,
                  max_rows: int | None = None) -> SourceSpec:
    """Alpaca-format instruction data in ``lang``: a local JSON/JSONL file, or a Hub dataset id."""
    if Path(location).is_file():
        return SourceSpec(type="alpaca", path=location, lang=lang, license=license, max_rows=max_rows)
    return SourceSpec(type="hf", kind="instruction", path=location, split="train", revision=revision, lang=lang,
                      license=license, max_rows=max_rows, subset=f"alpaca_{lang}")


def coit_corpus_sources(lang: str, *, alpaca_x: str | None = None, alpaca_en: str = ALPACA_EN_ID,
                        wikimatrix: bool = True, opus100: bool = True, max_rows: int | None = None) -> list[SourceSpec]:
    """The public sources of a paper-style x-model corpus for ``lang``: en→X pairs from News-Commentary (where it
    covers ``lang``), WikiMatrix and OPUS-100; English Alpaca; translated Alpaca (``alpaca_x``, default Bactrian-X).
    Raises ConfigError before any download when a needed source lacks ``lang`` or no translation source is left."""
    translation = []
    if lang in NEWS_COMMENTARY_LANGUAGES:  # of the paper's six: ar and zh only
        translation.append(news_commentary_source(lang, max_rows=max_rows))
    if wikimatrix:
        translation.append(wikimatrix_source(lang, max_rows=max_rows))
    if opus100:
        translation.append(opus100_source(lang, max_rows=max_rows))
    if not translation:
        raise ConfigError(f"no translation source left for {lang!r} (News-Commentary has only "
                          f"{', '.join(NEWS_COMMENTARY_LANGUAGES)}; enable WikiMatrix or OPUS-100)")
    instruction_x = alpaca_source(lang, alpaca_x, max_rows=max_rows) if alpaca_x else \
        bactrian_x_source(lang, max_rows=max_rows)
    return [*translation, alpaca_source("en", alpaca_en, max_rows=max_rows), instruction_x]
