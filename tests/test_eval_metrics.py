"""Known-answer tests of coit_hf.evaluation.metrics and its `evaluate` modules (offline)."""

from __future__ import annotations

import json

import pytest
import sacrebleu

from coit_hf.evaluation import metrics


def test_substring_is_case_insensitive_containment():
    assert metrics.substring_match("The answer is PARIS, France.", " paris ") == 100.0
    assert metrics.substring_match("The answer is Lyon.", "Paris") == 0.0
    assert metrics.substring_match("anything", "") == 0.0


@pytest.mark.parametrize(
    ("pred", "gold", "lang", "em", "f1"),
    [
        ("The Eiffel Tower!", "eiffel tower", "en", 100.0, 100.0),
        ("the big red dog", "a red dog", "en", 0.0, 80.0),  # tokens [big red dog] vs [red dog]
        ("北京。", "北京", "zh", 100.0, 100.0),  # Unicode punctuation removed
        ("北京市", "北京", "zh", 0.0, 80.0),  # character-level F1: P=2/3, R=1
        ("1990年", "1990年代", "zh", 0.0, 80.0),  # digits stay one token: [1990, 年] vs [1990, 年, 代]
        ("الكتاب", "كتاب", "ar", 100.0, 100.0),  # Arabic article ال removed
        ("كتاب قديم", "الكتاب الجديد", "ar", 0.0, 50.0),
    ],
)
def test_exact_match_and_f1_known_answers(pred, gold, lang, em, f1):
    assert metrics.exact_match(pred, gold, lang) == em
    assert metrics.f1_score(pred, gold, lang) == pytest.approx(f1)


def test_whitespace_f1_on_zh_would_differ():
    # Without char segmentation "北京市" vs "北京" share no token: the registry's segmentation is what gives 80.
    assert metrics.answer_tokens("北京市", "zh") == ["北", "京", "市"]
    assert metrics.answer_tokens("北京市", "en") == ["北京市"]


def test_bleu_on_chinese_uses_zh_tokenizer():
    hyp, ref = ["我喜欢吃苹果"], ["我喜欢吃香蕉"]
    zh = metrics.bleu(hyp, ref, "zh")
    assert metrics.bleu_tokenizer_for("zh") == "zh"
    assert metrics.bleu(hyp, ref, tokenize="13a") == 0.0  # one "word" each: 13a sees nothing in common
    # 1-4 gram precisions 4/6, 3/5, 2/4, 1/3, no brevity penalty
    assert zh == pytest.approx(100 * (4 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25, abs=1e-6)
    assert zh == pytest.approx(sacrebleu.corpus_bleu(hyp, [ref], tokenize="zh").score)


def test_chrf_pp_equals_sacrebleu(shared_benchmarks):
    rows = [json.loads(line) for line in (shared_benchmarks / "udhr" / "udhr_7way.jsonl").read_text().splitlines()[:20]]
    refs = [r["en"] for r in rows]
    hyps = [" ".join(r["en"].split()[::-1][:12]) for r in rows]  # a scrambled, truncated "translation"
    ours = metrics.chrf_pp(hyps, refs)
    assert ours == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score)
    assert 0 < ours < 100
    assert metrics.chrf_pp(refs, refs) == pytest.approx(100.0)


def test_fidelity_by_script_and_markers():
    assert metrics.fidelity("我喜欢苹果", "zh") == 100.0
    assert metrics.fidelity("I like apples", "zh") == 0.0
    assert metrics.fidelity("Merhaba dünya", "tr") == 100.0
    assert metrics.fidelity("Hello world", "tr") == 0.0  # Latin script but no Turkish letters
    assert metrics.fidelity("", "en") == 0.0
    assert metrics.corpus_fidelity(["नमस्ते", "hello"], "hi") == 50.0


def test_spbleu_never_downloads(monkeypatch, tmp_path):
    monkeypatch.setattr(metrics, "spbleu_model_path", lambda: str(tmp_path / "absent.model"))
    assert metrics.spbleu_available() is False
    assert metrics.spbleu(["a"], ["a"]) is None
    assert "spbleu" not in metrics.translation_scores(["我"], ["我"], "zh")


def test_evaluate_modules_load_offline_and_agree():
    evaluate = pytest.importorskip("evaluate")
    from coit_hf.evaluation.metric_modules import MODULE_NAMES, module_path

    preds, refs = ["北京市", "上海", "I do not know"], ["北京", "上海。", "广州"]
    squad = evaluate.load(module_path("coit_squad")).compute(predictions=preds, references=refs, lang="zh")
    expected_f1 = sum(metrics.f1_score(p, r, "zh") for p, r in zip(preds, refs, strict=True)) / 3
    assert squad["f1"] == pytest.approx(expected_f1)
    assert squad["exact_match"] == pytest.approx(100 / 3)
    sub = evaluate.load(module_path("coit_substring")).compute(predictions=preds, references=refs)
    assert sub["substring"] == pytest.approx(100 / 3)
    chrf = evaluate.load(module_path("coit_chrf_pp")).compute(predictions=preds, references=refs)
    assert chrf["chrf++"] == pytest.approx(metrics.chrf_pp(preds, refs))
    bleu = evaluate.load(module_path("coit_bleu")).compute(predictions=preds, references=refs, lang="zh")
    assert bleu == {"bleu": pytest.approx(metrics.bleu(preds, refs, "zh")), "tokenize": "zh"}
    fid = evaluate.load(module_path("coit_fidelity")).compute(predictions=preds, lang="zh")
    assert fid["fidelity"] == pytest.approx(200 / 3)
    assert len(MODULE_NAMES) == 6
