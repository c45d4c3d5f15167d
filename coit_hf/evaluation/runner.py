"""Offline-safe evaluation runner: our tasks through lighteval's own Pipeline, results in ``coit_results.json``.

What it changes relative to ``lighteval accelerate`` (through :mod:`coit_hf.evaluation.lighteval_compat`):

- lighteval's registry holds only the coit task configs of the run: its built-in task modules are never imported
  (one calls ``HfApi().list_models(model_name=...)``, gone in huggingface_hub 2.x; one downloads a pickle at import).
- The model's sample cache goes under ``<output_dir>/.lighteval_cache/<name>``: lighteval joins
  ``cache_dir / model_name``, which for an absolute local path is the model folder itself.
- Generation is greedy; prompts are paper-exact (Alpaca, no chat template) or the model's chat template.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.evaluation import lighteval_compat, metrics
from coit_hf.evaluation.checks import check_eval_settings
from coit_hf.evaluation.context import EvalContext
from coit_hf.evaluation.results import (
    GENERATION_PROFILES,
    NAME_STYLES,
    PROMPT_FORMATS,
    RESULTS_FILE,
    default_generation,
    finite_scores,
)
from coit_hf.evaluation.sources import DataSource
from coit_hf.files import read_optional_json_object, write_json
from coit_hf.published import public_name

logger = logging.getLogger(__name__)

BACKENDS = ("accelerate", "endpoint")
CPU_BATCH_SIZE = 8
MODEL_CARD_STATE = "coit_card.json"  # written beside a trained model's card (coit_hf.hub.cards.CARD_STATE)


@dataclass
class EvalSettings:
    """Everything one ``coit-hf eval`` run needs."""

    model: str
    tasks: list[str]
    output_dir: str = "eval_results"
    max_samples: int | None = None
    backend: str = "accelerate"
    prompt_format: str = "paper"
    metadata: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, DataSource] = field(default_factory=dict)  # overrides over the default sources
    batch_size: int | None = None
    device: str = "cpu"
    dtype: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    save_details: bool = True
    generation_size: int | None = None  # max new tokens; None = the generation profile's budgets
    generation: str | None = None  # "paper" | "fast"; None = paper with the paper's prompt format, else fast
    name_style: str = "friendly"  # language names in translation prompts: "friendly" | "iso"
    qa_rules: str | None = None  # EM/F1 rules for every QA task; None = each benchmark's official script
    # lighteval's bootstrap stderr of corpus metrics costs most of a small run's CPU and coit_results.json omits it.
    bootstrap_iters: int = 0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"prompt format must be one of {', '.join(PROMPT_FORMATS)}, got {self.prompt_format!r}")
        if not self.tasks:
            raise ConfigError("no tasks given (e.g. --tasks coit_xquad:zh,coit_flores101:en-zh)")
        if self.generation is None:
            self.generation = default_generation(self.prompt_format)
        if self.generation not in GENERATION_PROFILES:
            raise ConfigError(f"generation must be one of {', '.join(GENERATION_PROFILES)}, got {self.generation!r}")
        if self.name_style not in NAME_STYLES:
            raise ConfigError(f"name style must be one of {', '.join(NAME_STYLES)}, got {self.name_style!r}")
        if self.generation_size is not None and self.generation_size < 1:
            raise ConfigError(f"generation size must be >= 1, got {self.generation_size}")
        if self.max_samples is not None and self.max_samples < 1:
            raise ConfigError(f"--max-samples must be >= 1, got {self.max_samples}")
        check_eval_settings(self, normalize_task_names(self.tasks))

    def context(self, *, with_spbleu: bool | None = None) -> EvalContext:
        """The task-building context of these settings (``sources`` are overrides over the defaults)."""
        return EvalContext(sources=self.sources, prompt_format=self.prompt_format, generation=self.generation,
                           name_style=self.name_style, qa_rules=self.qa_rules, generation_size=self.generation_size,
                           with_spbleu=with_spbleu)


def trained_name_styles(model: str) -> set[str]:
    """Language-name styles of the corpora a local model folder was trained on (from its card state); empty when
    the model is not a coit-trained folder or its corpora did not record a style."""
    datasets = read_optional_json_object(Path(model) / MODEL_CARD_STATE).get("datasets")
    return {d["name_style"] for d in datasets or [] if isinstance(d, dict) and isinstance(d.get("name_style"), str)}


def name_style_note(settings: EvalSettings, names: list[str]) -> str | None:
    """A warning when translation prompts use other language names than the model's training corpus did."""
    if not any(n.startswith("coit_flores101:") for n in names):
        return None
    styles = trained_name_styles(settings.model)
    if not styles or styles == {settings.name_style}:
        return None
    return (f"name style: the model card's corpus used {'/'.join(sorted(styles))} language names but this evaluation "
            f"uses {settings.name_style} (--name-style {sorted(styles)[0]} matches the training prompts)")


def normalize_task_names(tasks: list[str] | str) -> list[str]:
    """Split a comma list and drop ``|fewshot`` suffixes (coit tasks are zero-shot): ``coit_xquad:zh|0`` -> name."""
    items = tasks.split(",") if isinstance(tasks, str) else tasks
    names = []
    for item in (x.strip() for x in items):
        if not item:
            continue
        name, _, shots = item.partition("|")
        if shots not in ("", "0"):
            raise ConfigError(f"task {item!r}: coit tasks are zero-shot (paper protocol); use {name}|0")
        names.append(name)
    return list(dict.fromkeys(names))


def build_model_config(settings: EvalSettings):
    """lighteval model config for the backend: TransformersModelConfig (greedy) or LiteLLMModelConfig (endpoint)."""
    from lighteval.models.model_input import GenerationParameters

    use_chat = settings.prompt_format == "chat"
    if settings.backend == "endpoint":
        from lighteval.models.endpoints.litellm_model import LiteLLMModelConfig

        if not settings.base_url:
            raise ConfigError("--backend endpoint needs --base-url (e.g. http://localhost:8000/v1 of `vllm serve`)")
        prefixed = settings.model.startswith(("openai/", "hosted_vllm/"))
        model_name = settings.model if prefixed else f"openai/{settings.model}"
        return LiteLLMModelConfig(
            model_name=model_name, provider="openai", base_url=settings.base_url,
            api_key=settings.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            generation_parameters=GenerationParameters(temperature=0.0),
        )
    from lighteval.models.transformers.transformers_model import TransformersModelConfig

    # lighteval's automatic batch size probes with a full max_length forward at batch 512: ~20 s of a 28 s tiny
    # CPU run here, and meaningless on CPU; use a fixed default there.
    batch_size = settings.batch_size or (CPU_BATCH_SIZE if str(settings.device).startswith("cpu") else None)
    return TransformersModelConfig(
        model_name=settings.model,
        batch_size=batch_size,
        device=settings.device,
        dtype=settings.dtype,
        override_chat_template=use_chat,
        # The chat template writes its own special tokens (BOS included), as in training, where TRL encodes the
        # rendered template without them; the paper's plain prompt gets BOS from the tokenizer, as the paper did.
        add_special_tokens=not use_chat,
        model_loading_kwargs={"use_safetensors": True},  # no pickled weights; trust_remote_code stays False
        generation_parameters=GenerationParameters(temperature=0.0),
    )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("coit-hf", "lighteval", "transformers", "torch", "datasets", "sacrebleu"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def generation_record(settings: EvalSettings, configs: list) -> dict[str, Any]:
    """What ``coit_results.json`` records of generation: profile, greedy, per-task budget and stop strings."""
    return {
        "profile": settings.generation,
        "greedy": True,
        "max_new_tokens": {c.name: c.generation_size for c in configs},
        "stop_sequences": {c.name: list(c.stop_sequence or ()) for c in configs},
    }


def collect_results(
    lighteval_results: dict, settings: EvalSettings, notes: list[str], counts: dict[str, int] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict:
    """Turn lighteval's final dict into the ``coit_results.json`` object (scores 0-100, ``n`` = samples per task)."""
    per_task = lighteval_results.get("results", {})
    counts = counts or {}
    tasks: dict[str, dict[str, float]] = {}
    for full_name, scores in per_task.items():
        # lighteval keys tasks "name|0" in its files and "name:0" in the final dict
        name = re.sub(r"[|:]\d+$", "", full_name)
        if not name.startswith("coit_") or name.endswith(":_average"):  # lighteval adds per-family averages
            continue
        entry = {k: float(v) for k, v in scores.items() if not k.endswith("_stderr") and isinstance(v, int | float)}
        entry["n"] = counts.get(f"{name}|0")
        tasks[name] = entry
    return {
        "model": public_name(settings.model),  # results are published with cards: never a machine path
        "prompt_format": settings.prompt_format,
        "max_samples": settings.max_samples,
        "metadata": dict(settings.metadata),
        "versions": _versions(),
        "name_style": settings.name_style,
        **(extra or {}),
        "tasks": finite_scores(tasks, notes),
        "notes": notes,
    }


def data_sources(configs: list) -> dict[str, dict]:
    """``{task: provenance}`` of the tasks whose rows came from a materialised folder (repo, revision, commit,
    files with sha256, rows; file names only, never absolute paths)."""
    from coit_hf.evaluation.sources import read_provenance

    out = {}
    for config in configs:
        provenance = read_provenance(config.hf_repo) if os.path.isdir(config.hf_repo) else None
        if provenance is not None:
            out[config.name] = provenance
    return out


def benchmark_version_notes(sources: dict[str, dict]) -> list[str]:
    """A note per task whose data is another version of its benchmark (e.g. Flores-200 rows for coit_flores101)."""
    return [f"{task}: data from {s.get('repo')} is benchmark {s['benchmark']!r}, not {s['family']!r}"
            for task, s in sources.items() if s.get("benchmark") and s.get("benchmark") != s.get("family")]


def write_results(results: dict, output_dir: str | os.PathLike[str]) -> Path:
    """Write ``coit_results.json`` atomically (temp file + rename) and return its path."""
    target = Path(output_dir) / RESULTS_FILE
    try:
        write_json(target, results)
    except (OSError, ValueError) as exc:  # a full disk or a NaN: no partial results file is left
        raise CoitError(f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from exc
    return target


def run_evaluation(settings: EvalSettings, *, model=None) -> dict:
    """Evaluate ``settings.model`` on coit tasks with lighteval's Pipeline; write and return the results.

    ``model`` may be a ready lighteval ``LightevalModel`` (used by tests and notebooks) instead of a config.
    """
    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.pipeline import ParallelismManager, PipelineParameters

    names = normalize_task_names(settings.tasks)
    notes: list[str] = []
    with_spbleu = metrics.spbleu_available()
    if any(n.startswith("coit_flores101") for n in names) and not with_spbleu:
        notes.append(metrics.spbleu_fallback_note())
    from coit_hf.evaluation.tasks import qa_rules_of, task_config  # imports lighteval

    context = settings.context(with_spbleu=with_spbleu)
    configs = [task_config(n, context) for n in names]
    extra = {
        "generation": generation_record(settings, configs),
        "qa_rules": {n: rules for n in names if (rules := qa_rules_of(n, settings.qa_rules))},
        "fidelity_method": metrics.fidelity_method(),
    }
    style_note = name_style_note(settings, names)
    if style_note:
        logger.warning(style_note)
        notes.append(style_note)
    if settings.max_samples:
        notes.append(f"max_samples={settings.max_samples}: partial results (first N after lighteval's seeded shuffle)")

    output_dir = Path(settings.output_dir)
    tracker = EvaluationTracker(output_dir=str(output_dir), save_details=settings.save_details)
    launcher = ParallelismManager.ACCELERATE if settings.backend == "accelerate" else ParallelismManager.NONE
    params = PipelineParameters(launcher_type=launcher, max_samples=settings.max_samples,
                                bootstrap_iters=settings.bootstrap_iters)
    model_config = None if model is not None else build_model_config(settings)
    with lighteval_compat.grad_mode_kept():
        try:
            pipeline = lighteval_compat.make_pipeline(
                configs, tasks=",".join(f"{n}|0" for n in names), cache_root=output_dir / ".lighteval_cache",
                params=params, tracker=tracker, model_config=model_config, model=model,
            )
        except OSError as exc:  # a missing folder / unknown Hub id / no safetensors: name the model, no traceback
            raise InputError(f"cannot load the model: {str(exc).splitlines()[0]}", path=settings.model,
                             field="model") from exc
        pipeline.evaluate()
    if settings.save_details:
        lighteval_compat.redact_logged_model_config(tracker)
        pipeline.save_and_push_results()
    counts = {name: len(docs) for name, docs in pipeline.documents_dict.items()}
    if any(n.startswith("coit_mieval:") for n in names):  # generations for `coit-hf compare`
        from coit_hf.evaluation.mieval import generation_rows, write_generations

        logger.info("wrote %s", write_generations(generation_rows(pipeline.get_details()), output_dir))
    results = collect_results(pipeline.get_results(), settings, notes, counts, extra)
    results["data_sources"] = data_sources(configs)
    notes.extend(benchmark_version_notes(results["data_sources"]))
    path = write_results(results, output_dir)
    logger.info("wrote %s", path)
    return results
