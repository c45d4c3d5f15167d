"""spBLEU (sacreBLEU tokenize='flores101'), 0-100; None with a note when its SentencePiece model is not on disk (never downloads).

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_spbleu"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitSpbleu(base.CoitMetric):
    DESCRIPTION = "spBLEU (sacreBLEU tokenize='flores101'), 0-100; None with a note when its SentencePiece model is not on disk (never downloads)."
    USES_REFERENCES = True
    USES_LANG = False

    def _compute(self, predictions, references):
        score = metrics.spbleu(predictions, references)
        if score is None:
            return {"spbleu": None, "note": metrics.spbleu_fallback_note()}
        return {"spbleu": score}
