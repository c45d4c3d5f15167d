"""Corpus BLEU (0-100) with the target language's sacreBLEU tokenizer from the coit registry (zh -> 'zh').

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_bleu"))``.
"""

import datasets
import evaluate

from coit_hf.evaluation import metrics

_DESCRIPTION = """Corpus BLEU (0-100) with the target language's sacreBLEU tokenizer from the coit registry (zh -> 'zh')."""
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of model outputs (str).
    references: list of gold texts (str), one per prediction.
    lang: coit registry code of the expected language (default en).
"""


def _mean(values):
    return sum(values) / len(values) if values else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CoitBleu(evaluate.Metric):
    """Corpus BLEU (0-100) with the target language's sacreBLEU tokenizer from the coit registry (zh -> 'zh')."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, lang: str = "en"):
        return {"bleu": metrics.bleu(predictions, references, lang), "tokenize": metrics.bleu_tokenizer_for(lang)}
