"""Mixtures: shorthand counts and sources, YAML round trip, TRL fraction semantics, m-model corpora."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from trl.scripts.utils import DatasetConfig, DatasetMixtureConfig

from coit_hf.data.build import BuildConfig, build_corpus
from coit_hf.data.mixture import (
    CoitDatasetConfig,
    CoitMixtureConfig,
    load_mixture,
    load_mixture_file,
    parse_shorthand,
)
from coit_hf.errors import ConfigError, InputError

FIXTURES = Path(__file__).parent / "fixtures"


def _corpus(tmp_path: Path, lang: str, pairs: int) -> Path:
    """A corpus with `pairs` synthetic en→lang pairs plus the Alpaca fixtures (en, and zh when lang is zh)."""
    words = {"zh": "中文句子第{}号", "ar": "جملة رقم {}", "vi": "câu số {}"}[lang]
    rows = [{"en": f"English sentence number {i}.", lang: words.format(i)} for i in range(pairs)]
    path = tmp_path / f"pairs_{lang}.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    sources = [{"type": "jsonl", "path": str(path), "tgt_lang": lang, "display_name": f"synthetic-{lang}"},
               {"type": "alpaca", "path": str(FIXTURES / "alpaca_en.jsonl"), "lang": "en"}]
    if lang == "zh":
        sources.append({"type": "alpaca", "path": str(FIXTURES / "alpaca_zh.jsonl"), "lang": "zh"})
    # a folder name no other test uses: datasets' cache of local folders can mix up same-named folders written
    # within the same second by different tests (seen with datasets 5.2)
    out = tmp_path / f"mixture-{tmp_path.name}-coit-{lang}"
    build_corpus(BuildConfig(sources=sources, validation_size=0, quality={"max_length_ratio": 10}), out,
                 progress=False)
    return out


def test_shorthand_counts_and_sources(tmp_path):
    corpus = _corpus(tmp_path, "zh", 150)
    mixture = parse_shorthand("translation_en-zh[:100]+alpaca_zh", corpus)
    assert [(d.name, d.subset, d.num_rows) for d in mixture.datasets] == [
        ("translation", "translation_en-zh", 100), ("general", "alpaca_zh", None)]
    train = load_mixture(mixture)["train"]
    assert Counter(train["subset"]) == {"translation_en-zh": 100, "alpaca_zh": 24}
    assert Counter(train["source"]) == {"synthetic-zh": 100, "alpaca_zh.jsonl": 24}
    assert train["input"][:2] == ["English sentence number 0.", "English sentence number 1."]  # first N rows
    paper = load_mixture(parse_shorthand("translation_en-zh[:100]+alpaca_en+alpaca_zh", corpus))["train"]
    assert Counter(paper["subset"]) == {"translation_en-zh": 100, "alpaca_en": 24, "alpaca_zh": 24}


def test_mixture_yaml_round_trip_subclasses_trl(tmp_path):
    corpus = _corpus(tmp_path, "zh", 40)
    mixture = parse_shorthand("translation_en-zh[:30]+alpaca_en", corpus, seed=7)
    assert isinstance(mixture, DatasetMixtureConfig) and isinstance(mixture.datasets[0], DatasetConfig)
    path = mixture.to_yaml(tmp_path / "mix" / "x-zh.yaml")
    again = load_mixture_file(path)
    assert again == mixture and again.seed == 7
    (tmp_path / "contract.yaml").write_text(
        f"seed: 42\ndatasets:\n  - path: {corpus}\n    name: translation\n    split: train\n"
        f"    subset: translation_en-zh\n    num_rows: 10\n  - {{path: {corpus}, name: general, subset: alpaca_en}}\n"
        "test_split_size: 0.25\n", encoding="utf-8")
    split = load_mixture(load_mixture_file(tmp_path / "contract.yaml"))
    assert len(split["train"]) + len(split["test"]) == 34 and len(split["test"]) == 9


def test_fraction_follows_trl_semantics(tmp_path):
    corpus = _corpus(tmp_path, "zh", 40)
    config = CoitMixtureConfig(datasets=[
        {"path": str(corpus), "name": "translation", "subset": "translation_en-zh", "fraction": 0.5},
        {"path": str(corpus), "name": "general", "subset": "alpaca_zh", "fraction": 0.5},
    ])
    train = load_mixture(config)["train"]
    assert Counter(train["subset"]) == {"translation_en-zh": 24, "alpaca_zh": 24}  # capped by the smaller part


def test_m_model_shorthand_over_several_corpora(tmp_path):
    corpora = {"zh": _corpus(tmp_path, "zh", 20), "ar": _corpus(tmp_path, "ar", 30)}
    mixture = parse_shorthand("translation_en-zh[:10]+translation_en-ar[:25]+alpaca_en", corpora)
    assert [Path(d.path).name.rsplit("-", 1)[-1] for d in mixture.datasets] == ["zh", "ar", "zh"]
    train = load_mixture(mixture)["train"]
    assert Counter(train["subset"]) == {"translation_en-zh": 10, "translation_en-ar": 25, "alpaca_en": 24}


def test_mixture_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot parse mixture item"):
        parse_shorthand("translation_en-zh[100]", "corpus")
    with pytest.raises(ConfigError, match="no corpus for language 'hi'"):
        parse_shorthand("translation_en-hi", {"zh": "a"})
    (tmp_path / "bad.yaml").write_text("seed: 1\ndatasets:\n  - {path: x, colour: red}\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown key"):
        load_mixture_file(tmp_path / "bad.yaml")
    corpus = _corpus(tmp_path, "zh", 5)
    with pytest.raises(InputError, match="no rows with subset 'alpaca_tr'"):
        load_mixture(CoitMixtureConfig(datasets=[CoitDatasetConfig(path=str(corpus), name="general",
                                                                   subset="alpaca_tr")]))
