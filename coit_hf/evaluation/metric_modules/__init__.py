"""``evaluate`` metric modules wrapping coit_hf.evaluation.metrics, one folder per metric (loadable offline)."""

from __future__ import annotations

from importlib import resources

from coit_hf.errors import ConfigError

MODULE_NAMES = ("coit_substring", "coit_squad", "coit_chrf_pp", "coit_bleu", "coit_spbleu", "coit_fidelity")


def module_path(name: str) -> str:
    """Folder of the ``evaluate`` module ``name``: pass it to ``evaluate.load`` (works offline)."""
    if name not in MODULE_NAMES:
        raise ConfigError(f"unknown coit metric module {name!r}; available: {', '.join(MODULE_NAMES)}")
    return str(resources.files("coit_hf.evaluation.metric_modules").joinpath(name))
