"""MI-Eval-style multilingual instruction following: the ``coit_mieval:{lang}`` lighteval task family.

The paper's last claim (the m-model follows instructions in many languages) was measured on MI-Eval: instruction
prompts per language, the answers of two models compared by an LLM judge. This module is the generation half: one
generative task per language over an Alpaca-style instruction set (``instruction`` + optional ``input``), from any
Hub dataset (``--source 'mieval=org/set?config={lang}&split=test'``) or local JSON/JSONL (``--source
mieval=data/mieval_{lang}.jsonl``; see :mod:`coit_hf.evaluation.sources`). Prompts are the paper's Alpaca prompt or
the model's chat template (``--prompt-format``), decoding greedy, as for the other coit tasks.

Per task the results hold ``fidelity`` (share of answers written in the prompt's language, the language gate of
:mod:`coit_hf.evaluation.compare`) and ``n``. Every generation is written to ``<output_dir>/coit_generations.jsonl``
(one object per answer: task, lang, id, instruction, input, prompt, prediction), which ``coit-hf compare`` pairs up
between two runs (:func:`coit_hf.evaluation.compare.load_generations`).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from lighteval.metrics.metrics_sample import SampleLevelComputation
from lighteval.metrics.utils.metric_utils import SampleLevelMetric
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc, SamplingMethod

from coit_hf.errors import InputError
from coit_hf.evaluation import metrics
from coit_hf.evaluation.prompts import STOP_SEQUENCES, build_prompt, prediction_of
from coit_hf.evaluation.results import GENERATIONS_FILE
from coit_hf.evaluation.sources import DEFAULT_SOURCES, INSTRUCTION_KEYS, DataSource, materialize
from coit_hf.files import write_jsonl
from coit_hf.languages import language_codes

logger = logging.getLogger(__name__)

FAMILY = "mieval"
TASK_PREFIX = "coit_mieval"
GENERATION_SIZE = 256


def task_names(languages: Iterable[str] | None = None) -> list[str]:
    """``coit_mieval:{lang}`` for every registry language (or ``languages``)."""
    return [f"{TASK_PREFIX}:{c}" for c in (languages if languages is not None else language_codes())]


def mieval_prompt(line: dict, task_name: str | None = None, *, lang: str, prompt_format: str = "paper") -> Doc:
    """Instruction row -> Doc: Alpaca prompt (or chat user turn) of instruction + optional input; no gold answer."""
    key = next((k for k in INSTRUCTION_KEYS if isinstance(line.get(k), str) and line[k].strip()), None)
    if key is None:
        raise InputError(f"instruction row has none of the fields {', '.join(INSTRUCTION_KEYS)}", field="instruction")
    instruction = line[key].strip()
    extra = (line.get("input") or "").strip()
    return Doc(
        task_name=task_name or "",
        query=build_prompt(instruction, extra, prompt_format),
        choices=[""],  # open-ended: judged pairwise later, no reference answer
        gold_index=0,
        specific={"lang": lang, "id": str(line.get("id", "")), "instruction": instruction, "input": extra},
    )


class AnswerFidelity(SampleLevelComputation):
    """Per-sample language gate of the answer in ``lang`` (0 or 100), via :func:`metrics.fidelity`."""

    def __init__(self, lang: str):
        self.lang = lang

    def compute(self, doc: Doc, model_response, **kwargs) -> float:
        return metrics.fidelity(prediction_of(model_response), self.lang)


def _row_filter(lang: str):
    """Keep rows of ``lang`` when the dataset has a ``lang``/``language`` column (multilingual Hub sets)."""
    def keep(row: dict) -> bool:
        value = row.get("lang", row.get("language"))
        return value is None or value == lang

    return keep


def build_mieval_config(
    lang: str, prompt_format: str = "paper", sources: dict[str, DataSource] | None = None,
    generation_size: int | None = None, stop_sequences: tuple[str, ...] | None = None,
) -> LightevalTaskConfig:
    """The LightevalTaskConfig of ``coit_mieval:{lang}`` (its instruction set is ``sources["mieval"]``; see the
    module docstring)."""
    build_prompt("", "", prompt_format)  # validates the format
    source = materialize(FAMILY, {**DEFAULT_SOURCES, **(sources or {})}[FAMILY], (lang,))
    fid = SampleLevelMetric(
        metric_name="fidelity", higher_is_better=True, category=SamplingMethod.GENERATIVE,
        sample_level_fn=AnswerFidelity(lang), corpus_level_fn=np.mean,
    )
    return LightevalTaskConfig(
        name=f"{TASK_PREFIX}:{lang}",
        prompt_function=functools.partial(mieval_prompt, lang=lang, prompt_format=prompt_format),
        hf_repo=source.path,
        hf_subset=source.config or "default",
        hf_revision=source.revision,
        hf_avail_splits=[source.split],
        evaluation_splits=[source.split],
        hf_filter=_row_filter(lang),
        few_shots_split=None,
        few_shots_select=None,
        metrics=[fid],
        generation_size=generation_size or GENERATION_SIZE,
        stop_sequence=list(STOP_SEQUENCES if stop_sequences is None else stop_sequences),
        version=0,
    )


# ------------------------------------------------------------------------------------------------------ generations
def generation_rows(details: Mapping[str, list]) -> list[dict[str, Any]]:
    """Rows of ``coit_generations.jsonl`` from lighteval's per-task details (``pipeline.get_details()``)."""
    rows = []
    for full_name, items in details.items():
        task = full_name.split("|")[0]
        if not task.startswith(f"{TASK_PREFIX}:"):
            continue
        for detail in items:
            spec = detail.doc.specific or {}
            rows.append({
                "task": task, "lang": spec.get("lang", task.partition(":")[2]), "id": spec.get("id", ""),
                "instruction": spec.get("instruction", ""), "input": spec.get("input", ""),
                "prompt": detail.doc.query, "prediction": prediction_of(detail.model_response),
            })
    return sorted(rows, key=lambda r: (r["task"], r["id"]))


def write_generations(rows: list[dict[str, Any]], output_dir: str | os.PathLike[str]) -> Path:
    """Write generation rows as ``<output_dir>/coit_generations.jsonl`` (temp file + rename); return the path."""
    return write_jsonl(Path(output_dir) / GENERATIONS_FILE, rows)
