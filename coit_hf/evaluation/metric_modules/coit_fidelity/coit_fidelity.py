"""Language fidelity (0-100): share of outputs written in the expected language's script.

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_fidelity"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitFidelity(base.CoitMetric):
    DESCRIPTION = "Language fidelity (0-100): share of outputs written in the expected language's script."
    USES_REFERENCES = False
    USES_LANG = True

    def _compute(self, predictions, lang: str = "en"):
        return {"fidelity": metrics.corpus_fidelity(predictions, lang)}
