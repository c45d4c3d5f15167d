"""SQuAD exact match and F1 (0-100) equal to the official scripts: MLQA v1's for MLQA, SQuAD v1.1's for XQuAD.

An ``evaluate`` module over coit_hf.evaluation.metrics (the same functions lighteval tasks and reports use).
Load offline with ``evaluate.load(coit_hf.evaluation.metric_modules.module_path("coit_squad"))`` and call
``compute(predictions=..., references=..., lang="zh", benchmark="mlqa")``; ``rules="mlqa_v1"|"squad_v1.1"``
overrides the benchmark's official rule set. The result names the rules used.
"""

from coit_hf.evaluation import metrics
from coit_hf.evaluation.metric_modules import base


class CoitSquad(base.CoitMetric):
    DESCRIPTION = "SQuAD exact match and F1 (0-100) equal to the official MLQA v1 / SQuAD v1.1 scripts."
    USES_REFERENCES = True
    USES_LANG = True
    EXTRA_DOC = ("    benchmark: 'mlqa' (MLQA v1 rules, default) or 'xquad' (SQuAD v1.1 rules).\n"
                 "    rules: 'mlqa_v1' or 'squad_v1.1' to override the benchmark's rule set.\n")

    def _compute(self, predictions, references, lang: str = "en", benchmark: str = "mlqa", rules: str | None = None):
        chosen = metrics.qa_rules_for(benchmark, rules)
        pairs = list(zip(predictions, references, strict=True))
        return {"exact_match": base.mean(metrics.exact_match(p, r, lang, chosen) for p, r in pairs),
                "f1": base.mean(metrics.f1_score(p, r, lang, chosen) for p, r in pairs),
                "rules": chosen}
