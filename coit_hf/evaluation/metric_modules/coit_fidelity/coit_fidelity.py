"""Language fidelity (0-100): share of outputs written in the expected language's script.

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_fidelity"))``.
"""

import datasets
import evaluate

from coit_hf.evaluation import metrics

_DESCRIPTION = """Language fidelity (0-100): share of outputs written in the expected language's script."""
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of model outputs (str).
    lang: coit registry code of the expected language (default en).
"""


def _mean(values):
    return sum(values) / len(values) if values else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CoitFidelity(evaluate.Metric):
    """Language fidelity (0-100): share of outputs written in the expected language's script."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions, lang: str = "en"):
        return {"fidelity": metrics.corpus_fidelity(predictions, lang)}
