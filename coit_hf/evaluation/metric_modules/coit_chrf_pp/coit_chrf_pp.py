"""Corpus chrF++ (sacreBLEU CHRF with word_order=2), 0-100.

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_chrf_pp"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitChrfPp(base.CoitMetric):
    DESCRIPTION = 'Corpus chrF++ (sacreBLEU CHRF with word_order=2), 0-100.'
    USES_REFERENCES = True
    USES_LANG = False

    def _compute(self, predictions, references):
        return {"chrf++": metrics.chrf_pp(predictions, references)}
