"""``model-index`` card metadata from ``coit_results.json``, built with huggingface_hub's ``EvalResult``.

One ``EvalResult`` per task and metric. The dataset (Hub id, config, split, revision) comes from the results file's
``data_sources`` block; a task evaluated on local data without a Hub id is left out (never given an invented id),
and so is every task of an older results file without that block. Non-finite scores are left out with a warning.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from huggingface_hub import EvalResult

from coit_hf.evaluation.results import split_task_name

logger = logging.getLogger(__name__)

SOURCE_NAME = "coit-hf"
# Hub task ids (https://huggingface.co/tasks): extractive QA benchmarks and machine translation.
TASK_TYPES = {"xquad": ("question-answering", "Question Answering"), "mlqa": ("question-answering", "Question Answering"),
              "flores101": ("translation", "Translation"), "flores200": ("translation", "Translation"),
              "mieval": ("text-generation", "Instruction Following")}
BENCHMARK_NAMES = {"xquad": "XQuAD", "mlqa": "MLQA", "flores101": "Flores-101", "flores200": "Flores-200",
                   "flores_plus": "FLORES+", "mieval": "MI-Eval"}
# (metric type, pretty name) for our metric keys; types follow the evaluate metric ids where one exists.
METRICS = {
    "substring": ("substring_match", "Substring match (paper)"),
    "exact_match": ("exact_match", "Exact match (SQuAD)"),
    "f1": ("f1", "F1 (SQuAD)"),
    "spbleu": ("sacrebleu", "spBLEU (flores101 tokenizer)"),
    "bleu": ("bleu", "BLEU (script-aware)"),
    "chrf++": ("chrf", "chrF++"),
    "fidelity": ("language_fidelity", "Language fidelity"),
}


@dataclass
class ModelIndex:
    """The card's ``eval_results`` and what was left out of them (shown in the card body)."""

    results: list[EvalResult] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _dataset_name(benchmark: str, source: dict[str, Any], evaluated: Any) -> str:
    """E.g. ``XQuAD xquad.zh (validation, 50 of 1190 rows)``: how much of the split the scores stand for."""
    parts = [BENCHMARK_NAMES.get(benchmark, benchmark)]
    if source.get("config"):
        parts.append(str(source["config"]))
    name = " ".join(parts) + f" ({source.get('split') or 'test'}"
    rows = source.get("rows")
    if isinstance(evaluated, int) and isinstance(rows, int) and evaluated < rows:
        name += f", {evaluated} of {rows} rows"
    elif isinstance(rows, int) or isinstance(evaluated, int):
        name += f", {rows if isinstance(rows, int) else evaluated} rows"
    return name + ")"


def build_model_index(results: dict[str, Any], *, source_url: str | None = None) -> ModelIndex:
    """``EvalResult`` objects for every finite score of ``results`` whose data source has a Hub id.

    ``source_url`` (the project's or the model repo's URL) marks the results as coming from coit-hf; the Hub
    requires a URL with a source name, so without one no source is set.
    """
    sources = results.get("data_sources") or {}
    index = ModelIndex()
    for task, scores in sorted(results.get("tasks", {}).items()):
        family, langs = split_task_name(task)
        source = sources.get(task) if isinstance(sources, dict) else None
        if not isinstance(source, dict) or not source.get("repo"):
            reason = "local data without a Hub id" if isinstance(source, dict) else "no data source recorded"
            index.left_out.append(f"{task} ({reason})")
            continue
        benchmark = str(source.get("benchmark") or source.get("family") or family)
        task_type, task_name = TASK_TYPES.get(str(source.get("family") or family), ("text-generation", None))
        for metric, value in scores.items():
            if metric == "n" or value is None:
                continue
            if not _finite(value):
                logger.warning("%s/%s is %r: left out of the model-index", task, metric, value)
                continue
            metric_type, metric_name = METRICS.get(metric, (metric, metric))
            index.results.append(EvalResult(
                task_type=task_type, task_name=task_name,
                dataset_type=str(source["repo"]), dataset_name=_dataset_name(benchmark, source, scores.get("n")),
                dataset_config=source.get("config"), dataset_split=source.get("split"),
                dataset_revision=source.get("commit") or source.get("revision"),
                metric_type=metric_type, metric_name=f"{metric_name} ({langs})" if langs else metric_name,
                metric_value=round(float(value), 2),
                source_name=SOURCE_NAME if source_url else None, source_url=source_url,
            ))
    return index
