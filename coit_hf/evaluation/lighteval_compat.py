"""The one place that depends on lighteval's internals (everything else uses its public task and metric classes).

lighteval 0.13 has no public switch for what this module does, so each function leans on a private detail; a
lighteval release outside :data:`SUPPORTED` is refused by :func:`require_supported_lighteval` with a clear message
instead of failing somewhere inside an evaluation:

- :func:`custom_tasks_only`: the registry loads only the ``--custom-tasks`` module. lighteval 0.13's
  ``Registry.load_all_task_configs`` imports every built-in task module; one calls ``HfApi().list_models(
  model_name=...)``, which huggingface_hub 2.x removed, and one downloads a pickle at import.
- :func:`sample_cache_outside_model`: lighteval's model classes place their ``SampleCache`` at ``cache_dir /
  model_name``, which for an absolute local model path is the model folder itself.
- :func:`make_pipeline`: lighteval's ``Pipeline`` over an explicit list of task configs, with both fixes above.
- :func:`lighteval_cli_app`: lighteval's CLI app without its import silencing our loggers.
- :func:`grad_mode_kept`: torch's grad mode as it was before lighteval switched it off.
- :func:`read_details`: the columns of lighteval's per-sample details Parquet files.
- :func:`make_judge_lm` / :func:`judge_replies`: lighteval's ``JudgeLM`` with our messages passed through.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import re
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from coit_hf.errors import ConfigError, InputError

SUPPORTED = ((0, 13), (0, 14))  # lower bound included, upper bound excluded; pyproject.toml pins the same range
CUSTOM_TASKS_MODULE = "coit_eval_tasks"


@functools.cache
def require_supported_lighteval() -> str:
    """The installed lighteval version; :class:`ConfigError` when it is outside :data:`SUPPORTED`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("lighteval")
    except PackageNotFoundError:
        raise ConfigError("lighteval is not installed (pip install 'lighteval>=0.13,<0.14')") from None
    parts = tuple(int(p) for p in re.findall(r"\d+", installed)[:2])
    (low, high) = SUPPORTED
    if not low <= parts < high:
        raise ConfigError(f"lighteval {installed} is not supported: coit-hf works with "
                          f"{'.'.join(map(str, low))} <= lighteval < {'.'.join(map(str, high))}")
    return installed


# ------------------------------------------------------------------------------------------------ task registry
@contextlib.contextmanager
def custom_tasks_only() -> Iterator[None]:
    """While active, lighteval's ``Registry`` loads only the custom tasks module it is given (no built-ins)."""
    require_supported_lighteval()
    from lighteval.tasks.registry import Registry

    saved = Registry.__dict__["load_all_task_configs"]

    def load_custom_only(custom_tasks=None, load_multilingual: bool = False) -> dict:
        if custom_tasks is None:
            return {}
        return Registry._extract_configs(Registry.create_custom_tasks_module(custom_tasks))

    Registry.load_all_task_configs = staticmethod(load_custom_only)
    try:
        yield
    finally:
        Registry.load_all_task_configs = saved


def tasks_module(configs: Sequence[Any]) -> types.ModuleType:
    """An in-memory custom tasks module whose ``TASKS_TABLE`` is ``configs`` (what lighteval's registry reads)."""
    module = types.ModuleType(CUSTOM_TASKS_MODULE)
    module.TASKS_TABLE = list(configs)  # type: ignore[attr-defined]
    return module


# ------------------------------------------------------------------------------------------------ sample cache
def safe_cache_name(model_name: str) -> str:
    """A relative, file-name-safe stand-in for ``model_name`` (a local path keeps only its last part)."""
    name = Path(model_name).name if os.path.isabs(model_name) or os.path.exists(model_name) else model_name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "model"


@contextlib.contextmanager
def sample_cache_outside_model(cache_root: str | os.PathLike[str]) -> Iterator[None]:
    """While active, lighteval model classes create their SampleCache under ``cache_root`` (never the model dir)."""
    require_supported_lighteval()
    from lighteval.utils import cache_management

    base = cache_management.SampleCache

    class CoitSampleCache(base):  # type: ignore[misc, valid-type]
        def __init__(self, model_config):
            config = copy.copy(model_config)
            # SampleCache does Path(cache_dir) / model_name; a relative, sanitised name keeps it inside cache_root.
            object.__setattr__(config, "cache_dir", str(cache_root))
            object.__setattr__(config, "model_name", safe_cache_name(model_config.model_name))
            super().__init__(config)
            self.model_config = model_config

    # The model modules bind SampleCache at import, so the class is swapped where they look it up.
    import lighteval.models.endpoints.litellm_model as litellm_mod
    import lighteval.models.transformers.transformers_model as tm

    modules = [tm, litellm_mod]
    saved = [m.SampleCache for m in modules]
    try:
        for m in modules:
            m.SampleCache = CoitSampleCache
        yield
    finally:
        for m, s in zip(modules, saved, strict=True):
            m.SampleCache = s


@contextlib.contextmanager
def grad_mode_kept() -> Iterator[None]:
    """Restore torch's grad mode afterwards: lighteval's transformers model module calls
    ``torch.set_grad_enabled(False)`` at import and when a model is built, which would leave a later training step in
    the same process without gradients."""
    import torch

    enabled = torch.is_grad_enabled()
    try:
        yield
    finally:
        torch.set_grad_enabled(enabled)


def lighteval_cli_app():
    """lighteval's typer app. Importing ``lighteval.__main__`` runs ``logging.config.dictConfig`` with the default
    ``disable_existing_loggers=True``, which silences every logger made before it (ours included): they are
    switched back on."""
    import logging

    enabled = [lg for lg in logging.root.manager.loggerDict.values()
               if isinstance(lg, logging.Logger) and not lg.disabled]
    from lighteval.__main__ import app

    for lg in enabled:
        lg.disabled = False
    return app


# ------------------------------------------------------------------------------------------------ pipeline
class DataLoadError(InputError):
    """lighteval could not load a task's evaluation data (raised while the pipeline loads its tasks)."""


def make_pipeline(configs: Sequence[Any], *, tasks: str, cache_root: str | os.PathLike[str], params, tracker,
                  model_config=None, model=None):
    """lighteval's ``Pipeline`` over ``configs`` only (no built-in tasks), its sample cache under ``cache_root``.

    An ``OSError`` while the task data loads becomes :class:`DataLoadError` naming the data, so the caller can tell
    it from a model that fails to load.
    """
    require_supported_lighteval()
    from lighteval.pipeline import Pipeline

    class CoitPipeline(Pipeline):
        def _init_tasks_and_requests(self, tasks: str):
            try:
                super()._init_tasks_and_requests(tasks)
            except OSError as exc:
                sources = ", ".join(sorted({str(c.hf_repo) for c in configs}))
                raise DataLoadError(f"cannot load the evaluation data ({sources}): {str(exc).splitlines()[0]}; "
                                    "use --data-dir or --source for local copies", field="tasks") from exc

    params.custom_tasks_directory = tasks_module(configs)  # create_custom_tasks_module accepts a module object
    with custom_tasks_only(), sample_cache_outside_model(cache_root):
        return CoitPipeline(tasks=tasks, pipeline_parameters=params, evaluation_tracker=tracker,
                            model_config=model_config, model=model)


def redact_logged_model_config(tracker) -> None:
    """Drop the API key from the model config lighteval writes into ``results_*.json`` (``config_general``); the
    model built from the config keeps its own copy, so only the logged copy changes."""
    logger_ = tracker.general_config_logger
    config = getattr(logger_, "model_config", None)
    if config is not None and getattr(config, "api_key", None):
        logger_.model_config = config.model_copy(update={"api_key": None})


# ------------------------------------------------------------------------------------------------ details files
def read_details(folder: str | os.PathLike[str], task_prefix: str) -> list[tuple[str, dict, list[str]]]:
    """``(task, doc, generated texts)`` of every sample in lighteval's details Parquet files under ``folder`` for
    tasks named ``task_prefix*``; the newest file per task wins."""
    import pyarrow.parquet as pq

    newest: dict[str, Path] = {}
    files = Path(folder).rglob(f"details_{task_prefix}*.parquet")
    for file in sorted(files, key=lambda f: f.stat().st_mtime_ns):
        newest[file.name.removeprefix("details_").split("|")[0]] = file
    out = []
    for task, file in sorted(newest.items()):
        for item in pq.read_table(file, columns=["doc", "model_response"]).to_pylist():
            response = item["model_response"] or {}
            texts = response.get("text_post_processed") or response.get("text") or [""]
            out.append((task, item["doc"] or {}, list(texts)))
    return out


# ------------------------------------------------------------------------------------------------ judge
def make_judge_lm(*, model: str, backend: str, url: str | None, api_key: str | None, max_tokens: int,
                  hf_provider: str | None = None):
    """lighteval's ``JudgeLM`` that sends our chat messages unchanged and returns the raw reply."""
    require_supported_lighteval()
    from lighteval.metrics.utils.llm_as_judge import JudgeLM

    return JudgeLM(
        model=model,
        templates=lambda question, **_: question,  # `question` carries our chat messages
        process_judge_response=lambda reply: reply,
        judge_backend=backend,  # type: ignore[arg-type]
        url=url,
        api_key=api_key,
        max_tokens=max_tokens,
        hf_provider=hf_provider,  # type: ignore[arg-type]
    )


def judge_replies(judge_lm, prompts: list[list[dict[str, str]]]) -> list[str]:
    """The judge's raw reply to each prompt (an empty string where it gave none)."""
    n = len(prompts)
    _, _, replies = judge_lm.evaluate_answer_batch(prompts, [""] * n, [None] * n, [None] * n)
    return [r if isinstance(r, str) else ("" if r is None else str(r)) for r in replies]
