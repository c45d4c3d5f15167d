"""The evaluation metrics of coit-hf: one implementation shared by lighteval tasks, ``evaluate`` modules and reports.

QA (per sample, 0-100): the paper's case-insensitive substring accuracy, SQuAD exact match and F1 with MLQA-style
language-aware normalisation (character-level tokens for languages the registry marks ``segmentation: char``,
articles removed with the registry's ``articles`` regex). Translation (corpus, 0-100): chrF++, BLEU with the target
language's sacreBLEU tokenizer (registry ``bleu_tokenize``) and spBLEU (sacreBLEU ``flores101``) when its
SentencePiece model is already on disk — never downloaded here. Language fidelity: share of outputs written in
the expected script.
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

from coit_hf.languages import get_language
from coit_hf.scripts import script_counts

SPBLEU_TOKENIZER = "flores101"


# --------------------------------------------------------------------------------------------------------------- QA
@lru_cache(maxsize=1)
def _punctuation() -> frozenset[str]:
    # MLQA's evaluation treats every Unicode punctuation character (category P*) as punctuation, plus ASCII's.
    chars = {chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)).startswith("P")}
    return frozenset(chars | set(string.punctuation))


@lru_cache(maxsize=64)
def _articles_re(lang: str) -> re.Pattern[str] | None:
    pattern = get_language(lang).articles
    return re.compile(pattern) if pattern else None


def normalize_answer(text: str, lang: str) -> str:
    """MLQA-style normalisation: lower-case, drop punctuation, drop the language's articles, squeeze whitespace."""
    text = text.lower()
    punct = _punctuation()
    text = "".join(ch for ch in text if ch not in punct)
    articles = _articles_re(lang)
    if articles is not None:
        text = articles.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str, lang: str) -> list[str]:
    """Tokens F1 counts over a normalised answer: characters for ``segmentation: char`` languages, else words.

    As in MLQA's script, a char-segmented text keeps runs of other scripts (Latin words, digits) as whole tokens.
    """
    normalized = normalize_answer(text, lang)
    if get_language(lang).segmentation != "char":
        return normalized.split()
    tokens: list[str] = []
    for word in normalized.split():
        run = ""
        for ch in word:
            if unicodedata.category(ch).startswith("L") and script_counts(ch).get("Latin", 0) == 0:
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(ch)
            else:
                run += ch
        if run:
            tokens.append(run)
    return tokens


def substring_match(prediction: str, gold: str) -> float:
    """The paper's QA score: 100 if the gold answer occurs in the prediction, ignoring case, else 0."""
    gold = gold.strip().lower()
    return 100.0 if gold and gold in prediction.lower() else 0.0


def exact_match(prediction: str, gold: str, lang: str) -> float:
    """SQuAD exact match (0 or 100) after language-aware normalisation."""
    return 100.0 if normalize_answer(prediction, lang) == normalize_answer(gold, lang) else 0.0


def f1_score(prediction: str, gold: str, lang: str) -> float:
    """SQuAD/MLQA token-overlap F1 (0-100) with the language's tokens (characters for zh)."""
    pred_tokens = answer_tokens(prediction, lang)
    gold_tokens = answer_tokens(gold, lang)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if not pred_tokens or not gold_tokens:
        return 100.0 if pred_tokens == gold_tokens else 0.0
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 100.0 * 2 * precision * recall / (precision + recall)


def qa_scores(prediction: str, gold: str, lang: str) -> dict[str, float]:
    """All per-sample QA scores (0-100): substring, exact_match, f1 and fidelity of the prediction."""
    return {
        "substring": substring_match(prediction, gold),
        "exact_match": exact_match(prediction, gold, lang),
        "f1": f1_score(prediction, gold, lang),
        "fidelity": fidelity(prediction, lang),
    }


# ---------------------------------------------------------------------------------------------------------- fidelity
def fidelity(text: str, lang: str) -> float:
    """100 if ``text`` is written in ``lang``'s script (most letters), else 0; an empty output scores 0.

    For languages sharing a script with others (tr, vi vs en), the registry's ``marker_chars`` must also occur. This
    is a script-level detector, not a language identifier (English and, say, French are not told apart).
    """
    language = get_language(lang)
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    if sum(counts[s] for s in language.scripts) * 2 <= total:
        return 0.0
    if language.marker_chars:
        return 100.0 if any(ch in language.marker_chars for ch in text) else 0.0
    return 100.0


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
