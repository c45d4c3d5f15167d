"""SQuAD exact match and F1 (0-100) with MLQA-style, language-aware normalisation (char-level F1 for zh).

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_squad"))``.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitSquad(base.CoitMetric):
    DESCRIPTION = 'SQuAD exact match and F1 (0-100) with MLQA-style, language-aware normalisation (char-level F1 for zh).'
    USES_REFERENCES = True
    USES_LANG = True

    def _compute(self, predictions, references, lang: str = "en"):
        pairs = list(zip(predictions, references, strict=True))
        return {"exact_match": base.mean(metrics.exact_match(p, r, lang) for p, r in pairs),
                "f1": base.mean(metrics.f1_score(p, r, lang) for p, r in pairs)}
