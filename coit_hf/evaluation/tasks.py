"""lighteval custom tasks reproducing the paper's evaluation: XQuAD, MLQA and Flores-101 (en<->X).

Use with lighteval's CLI as ``--custom-tasks coit_hf.evaluation.tasks`` and task names such as ``coit_xquad:zh|0``,
``coit_mlqa:hi|0``, ``coit_flores101:en-zh|0``, ``coit_mieval:ar|0`` (instruction following, see
:mod:`coit_hf.evaluation.mieval`) (``coit_xquad|0`` expands to every language), or through
``coit-hf eval`` (which also keeps lighteval's built-in task modules out of the process).

Task configs are built on demand from an :class:`~coit_hf.evaluation.context.EvalContext` (:func:`task_config`).
Families are generated from the language registry, so a language added by configuration (``$COIT_HF_LANGUAGES``)
gets its tasks with no code change. ``TASKS_TABLE``, the list lighteval reads, is built on first access from
:meth:`EvalContext.from_environment` (``$COIT_HF_PROMPT_FORMAT``, ``$COIT_HF_GENERATION``, ``$COIT_HF_NAME_STYLE``,
``$COIT_HF_EVAL_SOURCES``); it holds the tasks whose data is at hand without a download, and
:func:`unavailable_tasks` says why each other task is not there.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterable

import numpy as np
from lighteval.metrics.metrics_corpus import CorpusLevelComputation
from lighteval.metrics.metrics_sample import SampleLevelComputation
from lighteval.metrics.sample_preparator import GenerativePreparator
from lighteval.metrics.utils.metric_utils import (
    CorpusLevelMetric,
    SampleLevelMetric,
    SampleLevelMetricGrouping,
)
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc, SamplingMethod

from coit_hf.errors import ConfigError, InputError
from coit_hf.evaluation import metrics, mieval
from coit_hf.evaluation.context import EvalContext
from coit_hf.evaluation.prompts import build_prompt, prediction_of
from coit_hf.evaluation.sources import DataSource, flores_column, materialize, sources_from_env
from coit_hf.languages import language_codes
from coit_hf.templates import qa_instruction_and_input, translation_instruction

logger = logging.getLogger(__name__)

XQUAD_LANGUAGES = ("en", "ar", "el", "hi", "tr", "vi", "zh")
MLQA_LANGUAGES = ("en", "ar", "hi", "vi", "zh")
QA_METRIC_NAMES = ("substring", "exact_match", "f1", "fidelity")


def qa_prompt(line: dict, task_name: str | None = None, *, lang: str, prompt_format: str = "paper") -> Doc:
    """Row of a SQuAD-shaped dataset -> Doc (instruction and labels in ``lang``, gold = first answer stripped)."""
    instruction, block = qa_instruction_and_input(lang, line["context"], line["question"])
    gold = line["answers"]["text"][0].strip()
    return Doc(
        task_name=task_name or "",
        query=build_prompt(instruction, block, prompt_format),
        choices=[gold],
        gold_index=0,
        specific={"lang": lang, "id": str(line.get("id", ""))},
    )


def translation_prompt(
    line: dict, task_name: str | None = None, *, src: str, tgt: str, prompt_format: str = "paper",
    name_style: str = "friendly",
) -> Doc:
    """Row of a Flores-shaped dataset -> Doc (translation instruction #0 with ``name_style`` language names + source
    sentence; gold = reference)."""
    instruction = translation_instruction(src, tgt, index=0, name_style=name_style)
    return Doc(
        task_name=task_name or "",
        query=build_prompt(instruction, line[flores_column(src)].strip(), prompt_format),
        choices=[line[flores_column(tgt)].strip()],
        gold_index=0,
        specific={"src": src, "tgt": tgt, "lang": tgt},
    )


# ----------------------------------------------------------------------------------------------------------- metrics
class QAScorer(SampleLevelComputation):
    """Per-sample substring / exact_match / f1 / fidelity (0-100) in one language, via coit_hf.evaluation.metrics;
    EM/F1 under ``rules`` (:data:`metrics.QA_RULES`)."""

    def __init__(self, lang: str, rules: str = "mlqa_v1"):
        self.lang = lang
        self.rules = rules

    def compute(self, doc: Doc, model_response, **kwargs) -> dict[str, float]:
        return metrics.qa_scores(prediction_of(model_response), doc.get_golds()[0], self.lang, self.rules)


class FidelityScorer(SampleLevelComputation):
    """Per-sample language fidelity (0 or 100) of the output in ``lang``."""

    def __init__(self, lang: str):
        self.lang = lang

    def compute(self, doc: Doc, model_response, **kwargs) -> float:
        return metrics.fidelity(prediction_of(model_response), self.lang)


class TranslationCorpusScore(CorpusLevelComputation):
    """Corpus chrF++ / BLEU (target tokenizer) / spBLEU over lighteval's GenerativeCorpusMetricInput items."""

    def __init__(self, metric: str, lang: str):
        self.metric = metric
        self.lang = lang

    def compute_corpus(self, items) -> float:
        hyps = [(i.preds[0] if isinstance(i.preds, list) else i.preds).strip() for i in items]
        refs = [i.golds[0] for i in items]
        if self.metric == "chrf++":
            return metrics.chrf_pp(hyps, refs)
        if self.metric == "bleu":
            return metrics.bleu(hyps, refs, self.lang)
        if self.metric == "spbleu":
            return metrics.bleu(hyps, refs, tokenize=metrics.SPBLEU_TOKENIZER)
        raise ValueError(f"unknown translation metric {self.metric!r}")


def qa_metric(lang: str, rules: str = "mlqa_v1") -> SampleLevelMetricGrouping:
    """The QA metric group for ``lang`` (mean of per-sample scores), EM/F1 under ``rules``."""
    return SampleLevelMetricGrouping(
        metric_name=list(QA_METRIC_NAMES),
        higher_is_better=dict.fromkeys(QA_METRIC_NAMES, True),
        category=SamplingMethod.GENERATIVE,
        sample_level_fn=QAScorer(lang, rules),
        corpus_level_fn=dict.fromkeys(QA_METRIC_NAMES, np.mean),
    )


def translation_metrics(tgt: str, with_spbleu: bool) -> list:
    """chrF++, BLEU with ``tgt``'s tokenizer, spBLEU when its model is on disk, and fidelity."""
    names = ["chrf++", "bleu"] + (["spbleu"] if with_spbleu else [])
    corpus = [
        CorpusLevelMetric(
            metric_name=name, higher_is_better=True, category=SamplingMethod.GENERATIVE,
            sample_level_fn=GenerativePreparator(), corpus_level_fn=TranslationCorpusScore(name, tgt),
        )
        for name in names
    ]
    fid = SampleLevelMetric(
        metric_name="fidelity", higher_is_better=True, category=SamplingMethod.GENERATIVE,
        sample_level_fn=FidelityScorer(tgt), corpus_level_fn=np.mean,
    )
    return [*corpus, fid]


# -------------------------------------------------------------------------------------------------------- task table
def task_names(languages: Iterable[str] | None = None) -> list[str]:
    """All coit task names for the registry's languages (or ``languages``): XQuAD for the paper's XQuAD languages
    and every configured one, MLQA for MLQA's, Flores-101 for en<->X."""
    codes = list(languages) if languages is not None else language_codes()
    extra = [c for c in codes if c not in XQUAD_LANGUAGES]
    names = [f"coit_xquad:{c}" for c in [*XQUAD_LANGUAGES, *extra] if c in codes]
    names += [f"coit_mlqa:{c}" for c in MLQA_LANGUAGES if c in codes]
    targets = [c for c in codes if c != "en"]
    names += [f"coit_flores101:{a}-{b}" for x in targets for a, b in (("en", x), (x, "en"))]
    return names


def _config(
    name: str, prompt_fn, source: DataSource, metric_list: list, generation_size: int, stop_sequences: tuple[str, ...],
) -> LightevalTaskConfig:
    return LightevalTaskConfig(
        name=name,
        prompt_function=prompt_fn,
        hf_repo=source.path,
        hf_subset=source.config or "default",
        hf_revision=source.revision,
        hf_avail_splits=[source.split],
        evaluation_splits=[source.split],
        few_shots_split=None,
        few_shots_select=None,
        metrics=metric_list,
        generation_size=generation_size,
        stop_sequence=list(stop_sequences),
        version=0,
    )


def qa_rules_of(name: str, qa_rules: str | None = None) -> str | None:
    """EM/F1 rules of a QA task name (``coit_mlqa:zh`` -> mlqa_v1, ``coit_xquad:zh`` -> squad_v1.1, or ``qa_rules``);
    None for other tasks."""
    family = name.split("|")[0].partition(":")[0].removeprefix("coit_")
    return metrics.qa_rules_for(family, qa_rules) if family in metrics.BENCHMARK_QA_RULES else None


def task_config(name: str, context: EvalContext, *, download: bool = True) -> LightevalTaskConfig:
    """The LightevalTaskConfig of one coit task name (``coit_xquad:zh``; a ``|fewshot`` suffix is ignored) in
    ``context``. With ``download=False`` Hub data is used only when an earlier run downloaded it (ConfigError
    otherwise)."""
    profile = context.profile
    name = name.split("|")[0]
    family, _, lang_part = name.partition(":")
    family = family.removeprefix("coit_")
    size = context.generation_size
    if family in ("xquad", "mlqa") and lang_part:
        source = materialize(family, context.sources[family], (lang_part,), download=download)
        prompt_fn = functools.partial(qa_prompt, lang=lang_part, prompt_format=context.prompt_format)
        metric = qa_metric(lang_part, metrics.qa_rules_for(family, context.qa_rules))
        return _config(name, prompt_fn, source, [metric], size or profile.qa_tokens, profile.stop_sequences)
    if family == "flores101" and "-" in lang_part:
        src, tgt = lang_part.split("-", 1)
        source = materialize(family, context.sources[family], (src, tgt), download=download)
        prompt_fn = functools.partial(translation_prompt, src=src, tgt=tgt, prompt_format=context.prompt_format,
                                      name_style=context.name_style)
        spbleu = metrics.spbleu_available() if context.with_spbleu is None else context.with_spbleu
        return _config(name, prompt_fn, source, translation_metrics(tgt, spbleu),
                       size or profile.translation_tokens, profile.stop_sequences)
    if family == "mieval" and lang_part:
        return mieval.build_mieval_config(lang_part, context.prompt_format, context.sources,
                                          size or profile.open_tokens, profile.stop_sequences)
    raise ConfigError(f"unknown coit task {name!r}; expected coit_xquad:LANG, coit_mlqa:LANG, coit_flores101:SRC-TGT "
                      "or coit_mieval:LANG")


def build_task_config(
    name: str, prompt_format: str = "paper", sources: dict[str, DataSource] | None = None,
    with_spbleu: bool | None = None, generation_size: int | None = None, generation: str | None = None,
    name_style: str = "friendly", qa_rules: str | None = None, download: bool = True,
) -> LightevalTaskConfig:
    """:func:`task_config` with the context given as arguments (for notebooks and tests); ``sources`` override
    ``$COIT_HF_EVAL_SOURCES``, which overrides the defaults.

    ``generation`` names the :data:`coit_hf.evaluation.context.PROFILES` entry (default: paper with the paper's prompt, else fast);
    ``generation_size`` overrides its maximum new tokens. ``name_style`` picks the language names of translation
    prompts. ``qa_rules`` overrides the benchmark's official EM/F1 rules (MLQA: mlqa_v1, XQuAD: squad_v1.1).
    """
    context = EvalContext(sources={**sources_from_env(), **(sources or {})}, prompt_format=prompt_format,
                          generation=generation, name_style=name_style, qa_rules=qa_rules,
                          generation_size=generation_size, with_spbleu=with_spbleu)
    return task_config(name, context, download=download)


def all_task_names(context: EvalContext) -> list[str]:
    """Every coit task of the context's languages (coit_mieval:* too; they need a configured instruction set)."""
    return [*task_names(context.languages), *mieval.task_names(context.languages)]


def build_tasks_table(
    names: Iterable[str] | None = None, prompt_format: str | None = None, sources: dict[str, DataSource] | None = None,
) -> list[LightevalTaskConfig]:
    """Task configs for ``names`` (default: every coit task of the registry) in the environment's context, with
    ``prompt_format`` and ``sources`` taking precedence."""
    env = EvalContext.from_environment()
    context = dataclasses.replace(env, sources={**env.sources, **(sources or {})},
                                  prompt_format=prompt_format or env.prompt_format)
    return [task_config(n, context) for n in (names if names is not None else task_names(context.languages))]


def available_tasks(context: EvalContext, names: Iterable[str] | None = None,
                    ) -> tuple[list[LightevalTaskConfig], dict[str, str]]:
    """Configs of the tasks (default: :func:`all_task_names`) whose data is at hand without a download (local
    sources, or Hub data an earlier run fetched), and ``{task: reason}`` for the others (never touches the
    network)."""
    table, unavailable = [], {}
    for name in (names if names is not None else all_task_names(context)):
        try:
            table.append(task_config(name, context, download=False))
        except (InputError, ConfigError) as exc:  # e.g. a local folder holding only some languages
            unavailable[name] = str(exc)
    return table, unavailable


def _module_tasks_table() -> list[LightevalTaskConfig]:
    """``TASKS_TABLE`` as the environment's context gives it now (reasons for the missing tasks are logged)."""
    table, unavailable = available_tasks(EvalContext.from_environment())
    for name, reason in unavailable.items():
        logger.info("coit task %s left out of TASKS_TABLE: %s", name, reason)
    return table


@functools.cache
def _environment_table() -> tuple[list[LightevalTaskConfig], dict[str, str]]:
    return available_tasks(EvalContext.from_environment())


def unavailable_tasks() -> dict[str, str]:
    """``{task: reason}`` of the coit tasks left out of ``TASKS_TABLE`` (their data cannot be resolved offline)."""
    return dict(_environment_table()[1])


def __getattr__(name: str):
    # lighteval reads TASKS_TABLE from this module: built on first access, so importing the module does no work.
    if name == "TASKS_TABLE":
        return _environment_table()[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
