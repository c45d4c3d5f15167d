"""Generations of two eval runs: read (``coit_generations.jsonl`` or lighteval's details), described and paired."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coit_hf.errors import InputError
from coit_hf.evaluation.results import GENERATIONS_FILE, RESULTS_FILE, load_results, run_label
from coit_hf.files import iter_jsonl

logger = logging.getLogger(__name__)


def generations_from_details(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Generation rows rebuilt from lighteval's details Parquet files under ``folder`` (runs made with lighteval's
    own CLI, ``python -m coit_hf.evaluation.lighteval_entry ... --custom-tasks coit_hf.evaluation.tasks``); the
    newest file per task wins."""
    from coit_hf.evaluation.lighteval_compat import read_details

    rows = []
    for task, doc, texts in read_details(folder, "coit_mieval:"):
        spec = doc.get("specific") or {}
        rows.append({"task": task, "lang": spec.get("lang", task.partition(":")[2]), "id": str(spec.get("id", "")),
                     "instruction": spec.get("instruction", ""), "input": spec.get("input", ""),
                     "prompt": doc.get("query", ""), "prediction": (texts[0] or "").strip()})
    return rows


def load_generations(path_or_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Generations of an eval run with coit_mieval tasks: an output folder, its ``coit_results.json`` or the
    ``coit_generations.jsonl`` itself; a folder without that file falls back to lighteval's details Parquet
    (:func:`generations_from_details`). Errors name the file and line."""
    path = Path(path_or_dir)
    folder = path if path.is_dir() else path.parent
    path = path / GENERATIONS_FILE if path.is_dir() else (path if path.suffix == ".jsonl" else path.with_name(GENERATIONS_FILE))
    if not path.is_file():
        rows = generations_from_details(folder) if folder.is_dir() else []
        if rows:
            logger.info("read generations from lighteval details under %s", folder)
            return rows
        raise InputError(f"no {GENERATIONS_FILE} and no lighteval details of coit_mieval tasks (run `coit-hf eval "
                         "--tasks coit_mieval:LANG ...` first)", path=path)
    rows = []
    for number, row in iter_jsonl(path):
        for key in ("task", "lang", "id", "prediction"):
            if key not in row:
                raise InputError("missing key", path=path, line=number, field=key)
        rows.append(row)
    return rows


def run_info(path_or_dir: str | os.PathLike[str], label: str | None) -> dict[str, Any]:
    path = Path(path_or_dir)
    results_file = path / RESULTS_FILE if path.is_dir() else path.with_name(RESULTS_FILE)
    info: dict[str, Any] = {"path": str(path), "model": None}
    if results_file.is_file():
        results = load_results(results_file)
        info.update(model=results["model"], prompt_format=results["prompt_format"],
                    label=label or run_label(results, str(path)))
    info.setdefault("label", label or path.name)
    return info


@dataclass
class Pair:
    """One prompt answered by both runs."""

    task: str
    lang: str
    id: str
    question: str
    answer_a: str
    answer_b: str


def pair_generations(rows_a: Sequence[dict], rows_b: Sequence[dict], tasks: Iterable[str] | None = None,
                     ) -> tuple[list[Pair], list[str]]:
    """Pairs by (task, id) (optionally only ``tasks``) and notes about prompts present in one run only."""
    wanted = set(tasks) if tasks else None
    index_b = {(r["task"], str(r["id"])): r for r in rows_b}
    pairs, notes, only_a = [], [], 0
    seen = set()
    for row in rows_a:
        key = (row["task"], str(row["id"]))
        if wanted is not None and row["task"] not in wanted:
            continue
        seen.add(key)
        other = index_b.get(key)
        if other is None:
            only_a += 1
            continue
        question = row.get("instruction") or row.get("prompt", "")
        if row.get("input"):
            question = f"{question}\n\n{row['input']}"
        pairs.append(Pair(row["task"], row["lang"], str(row["id"]), question, row["prediction"], other["prediction"]))
    only_b = sum(1 for key in index_b if key not in seen and (wanted is None or key[0] in wanted))
    if only_a or only_b:
        notes.append(f"{only_a} prompt(s) only in run A and {only_b} only in run B were left out")
    if not pairs:
        raise InputError("the two runs share no coit_mieval prompts (same tasks and instruction set needed)")
    return pairs, notes
