"""The paper's QA score: case-insensitive 'gold answer is a substring of the prediction' (0-100).

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_substring"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitSubstring(base.CoitMetric):
    DESCRIPTION = "The paper's QA score: case-insensitive 'gold answer is a substring of the prediction' (0-100)."
    USES_REFERENCES = True
    USES_LANG = False

    def _compute(self, predictions, references):
        return {"substring": base.mean(metrics.substring_match(p, r) for p, r in zip(predictions, references, strict=True))}
