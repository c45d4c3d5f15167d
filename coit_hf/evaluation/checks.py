"""Checks of an evaluation's settings made before any model or data is loaded: task names and their languages,
numeric options, the model path and the output folder, each failing with a message naming the option."""

from __future__ import annotations

from typing import Any

from coit_hf.errors import ConfigError
from coit_hf.files import require_model_path, require_output_dir

QA_FAMILIES = ("xquad", "mlqa", "mieval")
"""Families whose task names carry one language (``coit_xquad:zh``); ``flores101`` carries ``SRC-TGT``."""
TASK_FORMS = "coit_xquad:LANG, coit_mlqa:LANG, coit_flores101:SRC-TGT or coit_mieval:LANG"
QUANTISED_DTYPES = ("auto", "4bit", "8bit")
"""lighteval's TransformersModelConfig dtypes besides torch dtype names (lighteval 0.13 models/utils.py _get_dtype)."""


def task_languages(name: str) -> list[str]:
    """The language codes of a coit task name, checked against the registry; a bad name raises ConfigError."""
    from coit_hf.languages import get_language

    family, sep, langs = name.partition(":")
    family = family.removeprefix("coit_")
    if not name.startswith("coit_") or not sep or not langs:
        raise ConfigError(f"unknown coit task {name!r}; expected {TASK_FORMS}")
    if family in QA_FAMILIES:
        codes = [langs]
    elif family == "flores101":
        codes = langs.split("-", 1)
        if len(codes) != 2 or not all(codes):
            raise ConfigError(f"task {name!r}: Flores-101 tasks name a direction, e.g. coit_flores101:en-zh")
        if codes[0] == codes[1]:
            raise ConfigError(f"task {name!r}: source and target language are the same; translation needs two "
                              "languages (e.g. coit_flores101:en-zh)")
    else:
        raise ConfigError(f"unknown coit task {name!r}; expected {TASK_FORMS}")
    for code in codes:
        try:
            get_language(code)
        except (ConfigError, KeyError) as exc:
            raise ConfigError(f"task {name!r}: {exc}") from None
    return codes


def _check_count(value: Any, option: str, minimum: int) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
        raise ConfigError(f"{option} must be a whole number >= {minimum}, got {value!r}")


def check_dtype(dtype: str | None, option: str = "--dtype") -> None:
    """A dtype lighteval can load with: a torch dtype name (``bfloat16``), ``auto``, ``4bit`` or ``8bit``."""
    if dtype is None or dtype in QUANTISED_DTYPES:
        return
    import torch

    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise ConfigError(f"{option} {dtype!r} is not a dtype; use float32, bfloat16, float16, auto, 4bit or 8bit")


def check_eval_settings(settings: Any, names: list[str]) -> None:
    """Everything of ``settings`` (an ``EvalSettings``) that can be checked without loading a model or data."""
    if not names:
        raise ConfigError(f"--tasks names no task (got {','.join(settings.tasks)!r}); e.g. coit_xquad:zh,coit_flores101:en-zh")
    for name in names:
        task_languages(name)
    _check_count(settings.batch_size, "--batch-size", 1)
    _check_count(settings.bootstrap_iters, "--bootstrap-iters", 0)
    if settings.backend == "accelerate":
        check_dtype(settings.dtype)
        require_model_path(settings.model)
    require_output_dir(settings.output_dir)
