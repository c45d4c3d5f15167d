"""Corpus BLEU (0-100) with the target language's sacreBLEU tokenizer from the coit registry (zh -> 'zh').

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_bleu"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitBleu(base.CoitMetric):
    DESCRIPTION = "Corpus BLEU (0-100) with the target language's sacreBLEU tokenizer from the coit registry (zh -> 'zh')."
    USES_REFERENCES = True
    USES_LANG = True

    def _compute(self, predictions, references, lang: str = "en"):
        return {"bleu": metrics.bleu(predictions, references, lang), "tokenize": metrics.bleu_tokenizer_for(lang)}
