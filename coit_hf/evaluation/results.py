"""Reading evaluation results: ``coit_results.json`` written by ``coit-hf eval``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from coit_hf.errors import InputError
from coit_hf.files import read_json

RESULTS_FILE = "coit_results.json"
GENERATIONS_FILE = "coit_generations.jsonl"
"""Per-answer generations of coit_mieval tasks, next to the results (written by the runner, read by compare)."""
REQUIRED_KEYS = ("model", "prompt_format", "tasks")
PROMPT_FORMATS = ("paper", "chat")
"""Values of ``prompt_format``: the paper's Alpaca prompt, or the model's chat template."""
GENERATION_PROFILES = ("paper", "fast")
"""Values of ``generation.profile``: the paper's (greedy, 512 new tokens, no stop string) or shorter budgets with a
stop string (QA 64, translation 256 new tokens)."""
NAME_STYLES = ("friendly", "iso")
"""Language names in translation prompts: friendly ("Greek") or ISO 639-3 reference names ("Modern Greek (1453-)")."""


def default_generation(prompt_format: str) -> str:
    """The generation profile used when none is given: ``paper`` with the paper's prompt, else ``fast``."""
    return "paper" if prompt_format == "paper" else "fast"


def results_path(path_or_dir: str | os.PathLike[str]) -> Path:
    """The results file itself, or ``<dir>/coit_results.json`` for an output folder."""
    path = Path(path_or_dir)
    return path / RESULTS_FILE if path.is_dir() else path


def load_results(path_or_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a results file (or the one inside an eval output folder).

    Returns the results dict: model, prompt_format, max_samples, metadata, versions, tasks
    (``{"coit_xquad:zh": {"substring": .., "exact_match": .., "f1": .., "fidelity": .., "n": ..}, ...}``, scores 0-100),
    notes. Missing optional keys are filled with empty values. Raises :class:`InputError` naming the file and key.
    """
    path = results_path(path_or_dir)
    data = read_json(path, missing="results file not found (run `coit-hf eval --output-dir DIR` first)")
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=path)
    for key in REQUIRED_KEYS:
        if key not in data:
            raise InputError("missing required key", path=path, field=key)
    if not isinstance(data["tasks"], dict):
        raise InputError("'tasks' must map task names to score objects", path=path, field="tasks")
    for task, scores in data["tasks"].items():
        family, langs = split_task_name(task)
        if not task.startswith("coit_") or not family or not langs:
            raise InputError(f"task name {task!r} is not a coit task (coit_FAMILY:LANG, e.g. coit_xquad:zh)",
                             path=path, field=f"tasks.{task}")
        if not isinstance(scores, dict):
            raise InputError(f"task {task!r} must map metric names to numbers", path=path, field=f"tasks.{task}")
        for metric, value in scores.items():
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise InputError(f"score {task}/{metric} is not a number", path=path, field=f"tasks.{task}.{metric}")
            if value is not None and not math.isfinite(value):
                raise InputError(f"score {task}/{metric} is {value} (not a finite number); re-run the evaluation, or "
                                 "set it to null to leave it out", path=path, field=f"tasks.{task}.{metric}")
    data.setdefault("max_samples", None)
    data.setdefault("metadata", {})
    data.setdefault("versions", {})
    data.setdefault("notes", [])
    return data


def split_task_name(task: str) -> tuple[str, str]:
    """``coit_xquad:zh`` -> ("xquad", "zh"); ``coit_flores101:en-zh`` -> ("flores101", "en-zh")."""
    family, _, langs = task.partition(":")
    return family.removeprefix("coit_"), langs


def finite_scores(tasks: dict[str, dict[str, Any]], notes: list[str]) -> dict[str, dict[str, Any]]:
    """``tasks`` with every NaN or infinite score replaced by None, each one named in ``notes`` (a NaN written into
    results would reach reports, averages and cards as a number)."""
    out: dict[str, dict[str, Any]] = {}
    for task, scores in tasks.items():
        out[task] = {}
        for metric, value in scores.items():
            if isinstance(value, float) and not math.isfinite(value):
                notes.append(f"{task} {metric} was {value} (no valid score); recorded as null")
                value = None
            out[task][metric] = value
    return out


def run_label(results: dict[str, Any], path: str) -> str:
    """Label of a run: ``metadata.label``, else the model folder/repo name."""
    label = results.get("metadata", {}).get("label")
    return str(label) if label else Path(str(results.get("model") or path).rstrip("/")).name or path
