"""EM/F1 equal to the official scorers per sample: MLQA v1 (facebookresearch/MLQA mlqa_evaluation_v1.py) and SQuAD
v1.1 (huggingface/evaluate metrics/squad/compute_score.py).

The golden numbers were computed by running the two official scripts on each pair, one question per pair, in a
scratch folder outside this repository; only their outputs are stored here. Columns: lang, prediction, gold,
MLQA EM, MLQA F1, SQuAD v1.1 EM, SQuAD v1.1 F1 (0-100, rounded to 6 decimals).
"""

from __future__ import annotations

import pytest

from coit_hf.errors import ConfigError
from coit_hf.evaluation import metrics

GOLDEN = [
    ("en", "The Eiffel Tower!", "eiffel tower", 100.0, 100.0, 100.0, 100.0),
    ("en", "the big red dog", "a red dog", 0.0, 80.0, 0.0, 80.0),
    ("en", "", "the", 100.0, 0.0, 100.0, 0.0),
    ("en", "", "Paris", 0.0, 0.0, 0.0, 0.0),
    ("en", "Paris", "", 0.0, 0.0, 0.0, 0.0),
    ("en", "...", "!!!", 100.0, 0.0, 100.0, 0.0),
    ("en", "1,000 people", "1000 people", 100.0, 100.0, 100.0, 100.0),
    ("en", "“Hamlet”", "Hamlet", 100.0, 100.0, 0.0, 0.0),
    ("en", "Denver Broncos", "Denver Broncos won", 0.0, 80.0, 0.0, 80.0),
    ("en", "in 1990–1995", "1990 1995", 0.0, 0.0, 0.0, 0.0),
    ("en", "An apple a day", "apple day", 100.0, 100.0, 100.0, 100.0),
    ("en", "theatre", "the atre", 0.0, 0.0, 0.0, 0.0),
    ("en", "It is Carolina Panthers.", "Carolina Panthers", 0.0, 66.666667, 0.0, 66.666667),
    ("en", "no no no", "no", 0.0, 50.0, 0.0, 50.0),
    ("zh", "北京 大学", "北京大学", 100.0, 100.0, 0.0, 0.0),
    ("zh", "北京。", "北京", 100.0, 100.0, 0.0, 0.0),
    ("zh", "北京市", "北京", 0.0, 80.0, 0.0, 0.0),
    ("zh", "1990年", "1990年代", 0.0, 80.0, 0.0, 0.0),
    ("zh", "αβ粒子", "α粒子", 0.0, 66.666667, 0.0, 0.0),
    ("zh", "カメラ", "カメ", 0.0, 0.0, 0.0, 0.0),
    ("zh", "", "北京", 0.0, 0.0, 0.0, 0.0),
    ("zh", "", "。", 100.0, 0.0, 0.0, 0.0),
    ("zh", "“上海”", "上海", 100.0, 100.0, 0.0, 0.0),
    ("zh", "iPhone 手机", "iphone手机", 100.0, 100.0, 0.0, 0.0),
    ("zh", "约翰·史密斯", "约翰史密斯", 100.0, 100.0, 0.0, 0.0),
    ("zh", "答案是广州", "广州", 0.0, 57.142857, 0.0, 0.0),
    ("zh", "二〇〇八年", "2008年", 0.0, 33.333333, 0.0, 0.0),
    ("zh", "The answer 是北京", "北京", 0.0, 57.142857, 0.0, 0.0),
    ("zh", "한국어", "한국", 0.0, 0.0, 0.0, 0.0),
    ("ar", "الكتاب", "كتاب", 100.0, 100.0, 0.0, 0.0),
    ("ar", "كتاب قديم", "الكتاب الجديد", 0.0, 50.0, 0.0, 0.0),
    ("ar", "القاهرة، مصر", "القاهرة", 0.0, 66.666667, 0.0, 0.0),
    ("ar", "", "ال", 100.0, 0.0, 0.0, 0.0),
    ("ar", "عام 1990", "1990", 0.0, 66.666667, 0.0, 66.666667),
    ("ar", "«المدرسة»", "المدرسة", 100.0, 100.0, 0.0, 0.0),
    ("ar", "محمد علي", "علي محمد", 0.0, 100.0, 0.0, 100.0),
    ("ar", "جمال عبد الناصر", "عبد الناصر", 0.0, 80.0, 0.0, 80.0),
    ("ar", "؟", "", 100.0, 0.0, 0.0, 0.0),
    ("ar", "الملك فيصل الأول", "فيصل", 0.0, 50.0, 0.0, 50.0),
    ("ar", "the book", "book", 0.0, 66.666667, 100.0, 100.0),
    ("ar", "بالكتاب", "كتاب", 0.0, 66.666667, 0.0, 0.0),
    ("hi", "नई दिल्ली", "दिल्ली", 0.0, 66.666667, 0.0, 66.666667),
    ("hi", "भारत।", "भारत", 100.0, 100.0, 0.0, 0.0),
    ("hi", "महात्मा गांधी", "गांधी जी", 0.0, 50.0, 0.0, 50.0),
    ("hi", "", "भारत", 0.0, 0.0, 0.0, 0.0),
    ("hi", "१९४७", "1947", 0.0, 0.0, 0.0, 0.0),
    ("hi", "the Ganges", "Ganges", 0.0, 66.666667, 100.0, 100.0),
    ("hi", "हिन्दी", "हिंदी", 0.0, 0.0, 0.0, 0.0),
    ("hi", "राम, सीता", "सीता राम", 0.0, 100.0, 0.0, 100.0),
    ("hi", "॥", "", 100.0, 0.0, 0.0, 0.0),
    ("hi", "वह एक किताब है", "एक किताब", 0.0, 66.666667, 0.0, 66.666667),
    ("hi", "पुस्तक", "पुस्तक", 100.0, 100.0, 100.0, 100.0),
    ("hi", "गंगा नदी के किनारे", "गंगा नदी", 0.0, 66.666667, 0.0, 66.666667),
    ("vi", "Hà Nội", "hà nội", 100.0, 100.0, 100.0, 100.0),
    ("vi", "thủ đô của Việt Nam", "Việt Nam", 0.0, 66.666667, 0.0, 57.142857),
    ("vi", "cái bàn", "bàn", 100.0, 100.0, 0.0, 66.666667),
    ("vi", "", "những", 100.0, 0.0, 0.0, 0.0),
    ("vi", "năm 1945.", "1945", 0.0, 66.666667, 0.0, 66.666667),
    ("vi", "Hồ Chí Minh", "Thành phố Hồ Chí Minh", 0.0, 75.0, 0.0, 75.0),
    ("vi", "“Truyện Kiều”", "Truyện Kiều", 100.0, 100.0, 0.0, 0.0),
    ("vi", "là sinh viên", "sinh viên", 100.0, 100.0, 0.0, 80.0),
    ("vi", "the Mekong", "Mekong", 0.0, 66.666667, 100.0, 100.0),
    ("vi", "sông Mê Kông", "Mê-Kông", 0.0, 0.0, 0.0, 0.0),
    ("vi", "Nguyễn Du", "nguyễn du", 100.0, 100.0, 100.0, 100.0),
    ("vi", "chiếc xe của tôi", "xe tôi", 100.0, 100.0, 0.0, 66.666667),
    ("vi", "an", "a", 0.0, 0.0, 100.0, 0.0),
]


def test_golden_set_covers_the_paper_languages():
    assert len(GOLDEN) >= 60
    assert {row[0] for row in GOLDEN} == {"en", "zh", "ar", "hi", "vi"}


@pytest.mark.parametrize(("lang", "pred", "gold", "mlqa_em", "mlqa_f1", "squad_em", "squad_f1"), GOLDEN)
def test_scores_equal_the_official_scripts(lang, pred, gold, mlqa_em, mlqa_f1, squad_em, squad_f1):
    assert metrics.exact_match(pred, gold, lang, "mlqa_v1") == mlqa_em
    assert metrics.f1_score(pred, gold, lang, "mlqa_v1") == pytest.approx(mlqa_f1, abs=1e-5)
    assert metrics.exact_match(pred, gold, lang, "squad_v1.1") == squad_em
    assert metrics.f1_score(pred, gold, lang, "squad_v1.1") == pytest.approx(squad_f1, abs=1e-5)


def test_benchmarks_pick_their_official_rules():
    assert metrics.qa_rules_for("mlqa") == "mlqa_v1"
    assert metrics.qa_rules_for("xquad") == "squad_v1.1"
    assert metrics.qa_rules_for("xquad", "mlqa_v1") == "mlqa_v1"
    with pytest.raises(ConfigError, match="squad_v1.1"):
        metrics.qa_rules_for("xquad", "squad2")
    with pytest.raises(ConfigError, match="benchmark"):
        metrics.qa_rules_for("flores101")


def test_evaluate_module_takes_lang_and_benchmark():
    evaluate = pytest.importorskip("evaluate")
    from coit_hf.evaluation.metric_modules import module_path

    squad = evaluate.load(module_path("coit_squad"))
    preds, refs = ["北京 大学", "“上海”"], ["北京大学", "上海"]
    mlqa = squad.compute(predictions=preds, references=refs, lang="zh", benchmark="mlqa")
    assert mlqa == {"exact_match": 100.0, "f1": 100.0, "rules": "mlqa_v1"}
    xquad = squad.compute(predictions=preds, references=refs, lang="zh", benchmark="xquad")
    assert xquad == {"exact_match": 0.0, "f1": 0.0, "rules": "squad_v1.1"}
    other = squad.compute(predictions=preds, references=refs, lang="zh", benchmark="xquad", rules="mlqa_v1")
    assert other["exact_match"] == 100.0
