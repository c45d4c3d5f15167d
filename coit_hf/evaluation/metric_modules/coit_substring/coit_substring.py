"""The paper's QA score: case-insensitive 'gold answer is a substring of the prediction' (0-100).

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_substring"))``.
"""

import datasets
import evaluate

from coit_hf.evaluation import metrics

_DESCRIPTION = """The paper's QA score: case-insensitive 'gold answer is a substring of the prediction' (0-100)."""
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of model outputs (str).
    references: list of gold texts (str), one per prediction.
"""


def _mean(values):
    return sum(values) / len(values) if values else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CoitSubstring(evaluate.Metric):
    """The paper's QA score: case-insensitive 'gold answer is a substring of the prediction' (0-100)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        return {"substring": _mean([metrics.substring_match(p, r) for p, r in zip(predictions, references, strict=True)])}
