"""Reading scaling observations (runs) and writing/reading fitted laws.

An observation is one trained-and-evaluated run: language, number of translation pairs, score. Sources:

* CSV with a header holding ``lang``, ``translation_pairs`` (or ``n``) and ``score`` (or the metric name);
* JSON: a list of such objects, or ``{"runs": [...]}``;
* result folders of ``coit-hf eval`` (``coit_results.json`` whose ``metadata`` records
  ``translation_pairs`` and ``lang``); the score is read from the task ``coit_flores101:en-<lang>`` by default.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coit_hf import files
from coit_hf.errors import InputError
from coit_hf.files import read_json
from coit_hf.scaling.laws import FitResult

logger = logging.getLogger(__name__)

RESULTS_FILE = "coit_results.json"
DEFAULT_TASK = "coit_flores101:en-{lang}"
DEFAULT_METRICS = ("spbleu", "bleu")


@dataclass(frozen=True)
class Observation:
    """One run: ``score`` of language ``lang`` trained with ``n`` translation pairs (``source`` = where read)."""

    lang: str
    n: float
    score: float
    metric: str | None = None
    source: str | None = None


def _number(value: Any, *, path: object, line: int | None, field: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {value!r}", path=path, line=line, field=field) from None
    if not math.isfinite(out):
        raise InputError(f"value is {out} (not a finite number)", path=path, line=line, field=field)
    return out


def _from_record(rec: dict[str, Any], metrics: Sequence[str], *, path: object, line: int | None) -> Observation:
    lang = rec.get("lang")
    if not lang:
        raise InputError("missing language", path=path, line=line, field="lang")
    n_key = next((k for k in ("translation_pairs", "n") if rec.get(k) not in (None, "")), None)
    if n_key is None:
        raise InputError("missing translation-pair count", path=path, line=line, field="translation_pairs")
    score_key = next((k for k in ("score", *metrics) if rec.get(k) not in (None, "")), None)
    if score_key is None:
        raise InputError(f"missing score (looked for score, {', '.join(metrics)})", path=path, line=line, field="score")
    n = _number(rec[n_key], path=path, line=line, field=n_key)
    if n <= 0:
        raise InputError("translation-pair count must be positive", path=path, line=line, field=n_key)
    metric = rec.get("metric") or (score_key if score_key != "score" else None)
    return Observation(
        lang=str(lang),
        n=n,
        score=_number(rec[score_key], path=path, line=line, field=score_key),
        metric=metric,
        source=str(path),
    )


def read_table(path: str | os.PathLike, metrics: Sequence[str] = DEFAULT_METRICS) -> list[Observation]:
    """Read observations from a CSV or JSON table of runs."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            # Line numbers count the header as line 1.
            return [_from_record(row, metrics, path=path, line=i) for i, row in enumerate(reader, start=2)]
    data = read_json(path)
    if isinstance(data, dict) and "tasks" in data:
        return [read_result_file(path, metrics=metrics)]
    runs = data.get("runs") if isinstance(data, dict) else data
    if not isinstance(runs, list):
        raise InputError("expected a list of runs or {'runs': [...]}", path=path)
    out = []
    for i, rec in enumerate(runs, start=1):
        if not isinstance(rec, dict):
            raise InputError(f"run #{i} is not an object", path=path)
        out.append(_from_record(rec, metrics, path=f"{path} (run #{i})", line=None))
    return out


def _load_results(path: Path) -> dict[str, Any]:
    """The results dict, through the eval room's loader when available."""
    try:
        from coit_hf.evaluation.results import load_results  # type: ignore[import-not-found]
    except ImportError:
        load_results = None
    if load_results is not None:
        loaded = load_results(path)
        if isinstance(loaded, dict):
            return loaded
        for attr in ("to_dict", "model_dump"):
            if hasattr(loaded, attr):
                return getattr(loaded, attr)()
        if hasattr(loaded, "__dict__"):
            return dict(vars(loaded))
    return read_json(path)


def read_result_file(
    path: str | os.PathLike,
    *,
    task: str = DEFAULT_TASK,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> Observation:
    """One observation from a ``coit_results.json`` (or its folder): metadata gives n and lang, ``task`` the score.

    ``task`` may contain ``{lang}``; the first metric of ``metrics`` present in that task's scores is used.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise InputError("evaluation results not found", path=path)
    data = _load_results(path)
    meta = data.get("metadata") or {}
    lang = meta.get("lang")
    if not lang:
        raise InputError("run metadata lacks the language (eval --metadata lang=X)", path=path, field="metadata.lang")
    if meta.get("translation_pairs") in (None, ""):
        raise InputError(
            "run metadata lacks the number of translation pairs (eval --metadata translation_pairs=N)",
            path=path,
            field="metadata.translation_pairs",
        )
    n = _number(meta["translation_pairs"], path=path, line=None, field="metadata.translation_pairs")
    if n <= 0:
        raise InputError("translation_pairs must be positive", path=path, field="metadata.translation_pairs")
    task_name = task.format(lang=lang)
    scores = (data.get("tasks") or {}).get(task_name)
    if scores is None:
        raise InputError(f"no scores for task {task_name!r}", path=path, field=f"tasks.{task_name}")
    metric = next((m for m in metrics if scores.get(m) is not None), None)
    if metric is None:
        raise InputError(
            f"task {task_name!r} has none of the metrics {', '.join(metrics)}", path=path, field=f"tasks.{task_name}"
        )
    score = _number(scores[metric], path=path, line=None, field=f"tasks.{task_name}.{metric}")
    return Observation(lang=str(lang), n=n, score=score, metric=metric, source=str(path))


def read_observations(
    sources: Iterable[str | os.PathLike],
    *,
    task: str = DEFAULT_TASK,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> list[Observation]:
    """Observations from any mix of CSV/JSON tables, result files and folders (searched recursively for
    ``coit_results.json``)."""
    out: list[Observation] = []
    for src in sources:
        src = Path(src)
        if src.is_dir():
            files = sorted(src.rglob(RESULTS_FILE))
            if not files:
                raise InputError(f"no {RESULTS_FILE} under this folder", path=src)
            out.extend(read_result_file(f, task=task, metrics=metrics) for f in files)
        elif src.name == RESULTS_FILE:
            out.append(read_result_file(src, task=task, metrics=metrics))
        else:
            out.extend(read_table(src, metrics=metrics))
    metrics_seen = {o.metric for o in out if o.metric}
    if len(metrics_seen) > 1:
        logger.warning("observations mix metrics %s; fit them separately if they are not comparable", metrics_seen)
    return out


def group_by_language(observations: Iterable[Observation]) -> dict[str, tuple[list[float], list[float]]]:
    """``{lang: (sizes, scores)}`` in first-seen language order."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for obs in observations:
        sizes, scores = out.setdefault(obs.lang, ([], []))
        sizes.append(obs.n)
        scores.append(obs.score)
    return out


def _finite_or_null(data: Any) -> Any:
    """``data`` with NaN and infinite floats as None: strict JSON, which other tools (and our readers) accept."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite_or_null(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite_or_null(v) for v in data]
    return data


def write_json(data: Any, path: str | os.PathLike) -> Path:
    """Write JSON atomically (temp file + rename); NaN and infinite numbers are written as null."""
    return files.write_json(path, _finite_or_null(data))


def read_fits(path: str | os.PathLike) -> dict[str, FitResult]:
    """Read the selected fits from a ``scaling fit`` output (``{"fits": {lang: {...}}}``)."""
    path = Path(path)
    data = read_json(path, missing="fits file not found")
    fits = data.get("fits") if isinstance(data, dict) else None
    if not isinstance(fits, dict) or not fits:
        raise InputError("expected a 'fits' object keyed by language", path=path, field="fits")
    out = {lang: FitResult.from_dict(entry, path=path) for lang, entry in fits.items()}
    for lang, fit in out.items():
        for name, value in fit.params.items():
            if not math.isfinite(value):
                raise InputError(f"parameter {name} of {lang}'s law is {value}; refit with `coit-hf scaling fit`",
                                 path=path, field=f"fits.{lang}.params.{name}")
    return out


def read_similarity(path: str | os.PathLike, *, pivot: str = "en", layer: str | int = "best",
                    measure: str = "gap") -> dict[str, float]:
    """Similarity terms per language from an alignment JSON (``coit-hf align`` output) or a ``{lang: s}`` JSON.

    For an alignment file, ``s_lang`` is ``measure`` (``gap`` or ``pair_cosine``) of the pair ``pivot``–``lang`` at
    ``layer`` (an index, ``"middle"``, or ``"best"`` = the layer with the largest mean gap).
    """
    path = Path(path)
    data = read_json(path, missing="similarity JSON not found")
    if isinstance(data, dict) and "pairs" in data and "layers" in data:
        from coit_hf.analysis.alignment import similarity_by_language

        return similarity_by_language(data, pivot=pivot, layer=layer, measure=measure)
    if not isinstance(data, dict):
        raise InputError("expected {lang: similarity}", path=path)
    return {str(k): _number(v, path=path, line=None, field=str(k)) for k, v in data.items()}
