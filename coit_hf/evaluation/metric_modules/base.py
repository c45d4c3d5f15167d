"""What every coit ``evaluate`` module shares: string features, the MetricInfo, the docstring.

Each module's folder keeps only its description and ``_compute``. The modules reach this one as
``base.CoitMetric`` (a module attribute, not an imported class), because ``evaluate`` takes the first
``EvaluationModule`` subclass it finds in the module's namespace as the metric.
"""

from __future__ import annotations

import datasets
import evaluate

PREDICTIONS_DOC = "    predictions: list of model outputs (str).\n"
REFERENCES_DOC = "    references: list of gold texts (str), one per prediction.\n"
LANG_DOC = "    lang: coit registry code of the expected language (default en).\n"


class CoitMetric(evaluate.Metric):
    """Base of the coit metrics: set ``DESCRIPTION``, ``USES_REFERENCES`` and ``USES_LANG``, implement ``_compute``."""

    DESCRIPTION = ""
    USES_REFERENCES = True
    USES_LANG = False
    EXTRA_DOC = ""  # further keyword arguments of ``compute``

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = f"{cls.DESCRIPTION}\n{cls.inputs_description()}"

    @classmethod
    def inputs_description(cls) -> str:
        """The ``Args:`` block of the metric's inputs."""
        return ("\nArgs:\n" + PREDICTIONS_DOC + (REFERENCES_DOC if cls.USES_REFERENCES else "")
                + (LANG_DOC if cls.USES_LANG else "") + cls.EXTRA_DOC)

    def _info(self):
        columns = {"predictions": datasets.Value("string")}
        if self.USES_REFERENCES:
            columns["references"] = datasets.Value("string")
        return evaluate.MetricInfo(description=self.DESCRIPTION, citation="",
                                   inputs_description=self.inputs_description(), features=datasets.Features(columns))


def mean(values) -> float:
    """Mean of per-sample scores (0.0 for none)."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0
