"""spBLEU (sacreBLEU tokenize='flores101'), 0-100; None with a note when its SentencePiece model is not on disk (never downloads).

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_spbleu"))``.
"""

import datasets
import evaluate

from coit_hf.evaluation import metrics

_DESCRIPTION = """spBLEU (sacreBLEU tokenize='flores101'), 0-100; None with a note when its SentencePiece model is not on disk (never downloads)."""
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of model outputs (str).
    references: list of gold texts (str), one per prediction.
"""


def _mean(values):
    return sum(values) / len(values) if values else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CoitSpbleu(evaluate.Metric):
    """spBLEU (sacreBLEU tokenize='flores101'), 0-100; None with a note when its SentencePiece model is not on disk (never downloads)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        score = metrics.spbleu(predictions, references)
        if score is None:
            return {"spbleu": None, "note": metrics.SPBLEU_FALLBACK_NOTE.format(path=metrics.spbleu_model_path())}
        return {"spbleu": score}
