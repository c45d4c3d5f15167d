"""SQuAD exact match and F1 (0-100) with MLQA-style, language-aware normalisation (char-level F1 for zh).

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_squad"))``.
"""

import datasets
import evaluate

from coit_hf.evaluation import metrics

_DESCRIPTION = """SQuAD exact match and F1 (0-100) with MLQA-style, language-aware normalisation (char-level F1 for zh)."""
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of model outputs (str).
    references: list of gold texts (str), one per prediction.
    lang: coit registry code of the expected language (default en).
"""


def _mean(values):
    return sum(values) / len(values) if values else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CoitSquad(evaluate.Metric):
    """SQuAD exact match and F1 (0-100) with MLQA-style, language-aware normalisation (char-level F1 for zh)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, lang: str = "en"):
        em = [metrics.exact_match(p, r, lang) for p, r in zip(predictions, references, strict=True)]
        f1 = [metrics.f1_score(p, r, lang) for p, r in zip(predictions, references, strict=True)]
        return {"exact_match": _mean(em), "f1": _mean(f1)}
