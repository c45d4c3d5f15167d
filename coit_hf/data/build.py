"""Build a CoIT corpus folder (Parquet configs translation/general/all): read sources, filter, split, render,
write Parquet + card + report.

The build is a datatrove pipeline (:mod:`coit_hf.data.steps`) run in stages by a local, Slurm or Ray executor
(:mod:`coit_hf.data.executors`). Tasks work in a hidden sibling folder of the output; the corpus is moved into
place only when complete (:mod:`coit_hf.data.output` holds the overwrite rule), so an error leaves no output
folder, and a crashed or killed build resumes from the finished tasks when run again. Memory per task is bounded
by ``task_lines`` and ``dedup_bucket_rows``, not by the corpus.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import shutil
import socket
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from coit_hf.data.decontam import DecontamConfig, Decontaminator
from coit_hf.data.executors import ExecutorOptions, make_executor, quiet_datatrove, ray_session
from coit_hf.data.output import check_output, recover_interrupted_swap, swap_into_place, write_marker
from coit_hf.data.plan import BuildPlan, fingerprint, input_files, make_units, ordered_sources
from coit_hf.data.quality import FILTERS, QualityConfig
from coit_hf.data.render import DIRECTIONS
from coit_hf.data.sources import SourceSpec
from coit_hf.data.steps import (
    STAT_SEP,
    CorpusStep,
    DedupStep,
    ReadFilterStep,
    RenderWriteStep,
    SelectValidationStep,
)
from coit_hf.data.validate import check_mapping
from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.files import line_of, read_json, read_optional_json_object, read_yaml, replacing, write_json
from coit_hf.languages import load_language_file

logger = logging.getLogger(__name__)

CONFIGS: tuple[str, ...] = ("translation", "general", "all")
SPLITS: tuple[str, ...] = ("train", "validation")
REPORT_FILE = "build_report.json"


def check_validation_size(size: Any) -> float | int:
    """``validation_size`` as a fraction in [0, 1) or a whole row count; NaN, infinite, negative or fractional
    counts (1.5) are errors."""
    if isinstance(size, bool) or not isinstance(size, int | float):
        raise ConfigError(f"validation_size must be a fraction in [0, 1) or a row count, got {size!r}")
    if not math.isfinite(size) or size < 0:
        raise ConfigError(f"validation_size must be a fraction in [0, 1) or a row count, got {size!r}")
    if isinstance(size, float) and size >= 1:
        if not size.is_integer():
            raise ConfigError(f"validation_size must be a fraction in [0, 1) or a whole row count, got {size!r}")
        return int(size)
    return size


@dataclass
class BuildConfig:
    """Everything a corpus build needs (the ``coit-hf data build --config`` YAML has these keys).

    Attributes:
        sources: translation and instruction sources (:class:`~coit_hf.data.sources.SourceSpec` fields).
        name: dataset name shown in the card (e.g. ``coit-zh``).
        direction: translation direction, ``en-x`` (paper), ``x-en`` or ``both``.
        name_style: language names in translation instructions: ``friendly`` or ``iso`` (ISO 639-3 names).
        validation_size: per subset: a fraction in (0, 1) (rows chosen by a seeded hash of their id) or a row count
            (the rows with the smallest hashes); 0 = no validation split (train on every row, as the paper did).
        seed: salt of the validation hash.
        quality: :class:`~coit_hf.data.quality.QualityConfig` fields.
        decontamination: :class:`~coit_hf.data.decontam.DecontamConfig` fields.
        languages_files: extra language registry files loaded before the build.
        batch_size / shard_rows: Parquet row-group size and most rows per Parquet file.
        max_reported: at most this many removed (contaminated) rows are listed in the report.
        task_lines: line-based sources (parallel, TSV, JSONL) are read in ranges of this many lines, one task each.
        dedup_bucket_rows: de-duplication runs in buckets of about this many signatures (its memory per task).
    """

    sources: list[SourceSpec] = field(default_factory=list)
    name: str = "coit-corpus"
    direction: str = "en-x"
    name_style: str = "friendly"
    validation_size: float | int = 0.01
    seed: int = 42
    quality: QualityConfig = field(default_factory=QualityConfig)
    decontamination: DecontamConfig = field(default_factory=DecontamConfig)
    languages_files: list[str] = field(default_factory=list)
    batch_size: int = 10_000
    shard_rows: int = 1_000_000
    max_reported: int = 10_000
    task_lines: int = 100_000
    dedup_bucket_rows: int = 1_000_000

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if self.name_style not in ("friendly", "iso"):
            raise ConfigError(f"name_style must be 'friendly' or 'iso', got {self.name_style!r}")
        self.validation_size = check_validation_size(self.validation_size)
        for name in ("batch_size", "shard_rows", "task_lines", "dedup_bucket_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
        if isinstance(self.quality, dict):
            self.quality = QualityConfig(**self.quality)
        if isinstance(self.decontamination, dict):
            self.decontamination = DecontamConfig(**self.decontamination)
        self.sources = [s if isinstance(s, SourceSpec) else SourceSpec.from_dict(s) for s in self.sources]

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> BuildConfig:
        """Read a build config; relative file paths in it are taken relative to the config file."""
        path = Path(path)
        data = read_yaml(path, "build config")
        if data is None:
            raise InputError("the build config is empty: give at least `sources:` (see README, corpus section)",
                             path=path)
        if not isinstance(data, dict):
            raise InputError("a build config is a mapping (sources:, name:, ...)", path=path)
        check_mapping(cls, data, path=path)
        check_mapping(QualityConfig, data.get("quality") or {}, path=path, prefix="quality.")
        check_mapping(DecontamConfig, data.get("decontamination") or {}, path=path, prefix="decontamination.")
        base = path.parent

        def resolve(value: str) -> str:
            return value if os.path.isabs(value) else str(base / value)

        for languages_file in data.get("languages_files", []) or []:
            load_language_file(resolve(languages_file))
        data["languages_files"] = [resolve(p) for p in data.get("languages_files", []) or []]
        sources = []
        for entry in data.get("sources", []) or []:
            if not isinstance(entry, dict):
                raise InputError("each source is a mapping", path=path, field="sources")
            entry = dict(entry)
            if entry.get("path") and entry.get("type") != "hf":
                entry["path"] = resolve(entry["path"])
            if entry.get("paths"):
                entry["paths"] = [resolve(p) for p in entry["paths"]]
            sources.append(SourceSpec.from_dict(entry, origin=str(path)))
        data["sources"] = sources
        decontamination = dict(data.get("decontamination") or {})
        decontamination["files"] = [resolve(p) for p in decontamination.get("files", [])]
        data["decontamination"] = decontamination
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(f"bad build config: {exc}", path=path) from None
        except ConfigError as exc:  # a value check of __post_init__: name the file, and the key it concerns
            key = next((f.name for f in fields(cls) if str(exc).startswith(f.name)), None)
            raise InputError(str(exc), path=path, line=line_of(path, key) if key else None, field=key) from None


WORK_SUFFIX = ".coit-build"


class BuildRunningError(ConfigError):
    """Another live process is building the same output folder."""
STAGES = ("read", "dedup", "select", "write")


def work_folder(output: Path) -> Path:
    """Hidden sibling of the output where a build keeps its tasks' files until the corpus is complete (a killed
    build resumes from it)."""
    return output.with_name(f".{output.name}{WORK_SUFFIX}")


def build_corpus(config: BuildConfig, output_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 progress: bool = True, executor: ExecutorOptions | None = None) -> dict[str, Any]:
    """Build the corpus folder ``output_dir`` from ``config``; returns the build report (also in the folder).

    Layout: ``README.md`` (card with ``configs:`` YAML: ``translation``, ``general`` and ``all`` = the files of the
    other two), ``<config>/<split>-<build>-<task>-<part>.parquet`` for the configs ``translation`` and ``general``
    (a split without rows is neither written nor declared), ``build_report.json`` and the marker file
    :data:`~coit_hf.data.output.MARKER`. The work runs as datatrove tasks (``executor``); running the same build
    again after a crash skips the tasks that finished. Raises :class:`InputError` / :class:`ConfigError` on bad
    input; nothing is left at ``output_dir`` then. With ``executor.kind == "slurm"`` the jobs are submitted and
    the function returns ``{"submitted": ...}`` (the last job moves the corpus into place).
    """
    options = executor or ExecutorOptions()
    if not config.sources:
        raise ConfigError("a build needs at least one source")
    output = Path(output_dir)
    started = time.perf_counter()
    check_output(output, overwrite=overwrite, inputs=input_files(config))
    work = work_folder(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        recover_interrupted_swap(output)
        plan = _prepare_work(config, output, work, options)
    except BuildRunningError:  # the work folder is another live build's
        raise
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise CoitError(f"cannot create a folder next to {output}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        if options.kind == "slurm":
            return _submit_slurm(plan, options, output, overwrite)
        with ray_session(options), quiet_datatrove():
            for stage in STAGES:
                if stage == "select" and not plan.count_validation:
                    continue
                _run_stage(plan, options, stage)
        report = finalize(plan, output, overwrite=overwrite, elapsed=time.perf_counter() - started,
                          executor=options)
    except (CoitError, KeyboardInterrupt):
        shutil.rmtree(work, ignore_errors=True)
        raise
    except OSError as exc:  # full disk, permissions, ...: a clean message, and the work folder goes
        shutil.rmtree(work, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise CoitError(f"building the corpus {output} failed: {exc.strerror or exc}{where}; nothing was "
                        f"written at {output}") from exc
    except Exception as exc:  # a task crashed: keep the finished tasks, the same command resumes
        raise CoitError(f"building the corpus {output} failed ({type(exc).__name__}: {exc}); run the "
                        f"same command again to resume (finished tasks are kept in {work})") from exc
    return report


def _prepare_work(config: BuildConfig, output: Path, work: Path, options: ExecutorOptions) -> BuildPlan:
    """Plan the tasks; reuse ``work`` when it holds a build of the same settings and inputs (resume)."""
    sources = ordered_sources(config)
    units, lines = make_units(sources, config.task_lines)
    decontaminator = Decontaminator(config.decontamination) if config.decontamination.files else None
    tag = fingerprint(config, {"units": [asdict(u) for u in units], "dedup_rows": config.dedup_bucket_rows})[:10]
    lock = work / "lock"
    if work.is_dir():
        previous = read_optional_json_object(work / "state.json")
        owner = read_optional_json_object(lock)
        if owner.get("pid") not in (None, os.getpid()) and owner.get("host") == socket.gethostname() \
                and _pid_alive(int(owner["pid"])):
            raise BuildRunningError(f"another build is writing {output} (process {owner['pid']}); wait for it or "
                                    "stop it")
        if previous.get("tag") != tag:
            shutil.rmtree(work)
        else:
            logger.info("resuming the build in %s: finished tasks are skipped", work)
    work.mkdir(exist_ok=True)
    write_json(lock, {"pid": os.getpid(), "host": socket.gethostname()}, indent=None)
    buckets = max(1, -(-lines // config.dedup_bucket_rows), min(len(units), options.workers or os.cpu_count() or 1))
    plan = BuildPlan(config=config, sources=sources, units=units, buckets=buckets, work=str(work), tag=tag,
                     extra={"lines": lines})
    if decontaminator is not None:
        index = work / "decontamination.pkl"
        with replacing(index) as tmp, tmp.open("wb") as handle:
            pickle.dump(decontaminator, handle)
        plan.decontamination_file = str(index)
        plan.extra["ngrams_indexed"] = len(decontaminator)
    plan.save()
    write_json(work / "state.json", {"tag": tag}, indent=None)
    return plan


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stage_pipeline(plan: BuildPlan, stage: str) -> tuple[list, int]:
    step = {"read": ReadFilterStep, "dedup": DedupStep, "select": SelectValidationStep,
            "write": RenderWriteStep}[stage](plan.work)
    return [step], plan.buckets if stage == "dedup" else plan.tasks


def _run_stage(plan: BuildPlan, options: ExecutorOptions, stage: str) -> None:
    pipeline, tasks = _stage_pipeline(plan, stage)
    executor = make_executor(options, pipeline, tasks=tasks, logging_dir=str(plan.path("logs", stage)),
                             job_name=f"coit-{stage}", rows=plan.extra.get("lines"))
    executor.run()
    _raise_task_errors(plan)
    missing = executor.get_incomplete_ranks(skip_completed=True)
    if missing:
        raise CoitError(f"{len(missing)} of {tasks} {stage} tasks did not finish (first: task {missing[0]}); see "
                        f"{plan.path('logs', stage, 'logs')}")


def _raise_task_errors(plan: BuildPlan) -> None:
    errors = sorted(plan.path("errors").glob("*.json")) if plan.path("errors").is_dir() else []
    if errors:
        data = read_optional_json_object(errors[0])
        cls = InputError if data.get("type") == "InputError" else ConfigError
        raise cls(data.get("message", "a build task failed"))


def _submit_slurm(plan: BuildPlan, options: ExecutorOptions, output: Path, overwrite: bool) -> dict[str, Any]:
    """Submit the stages as dependent Slurm job arrays; the last (one task) moves the corpus into place."""
    previous = None
    for stage in STAGES:
        if stage == "select" and not plan.count_validation:
            continue
        pipeline, tasks = _stage_pipeline(plan, stage)
        previous = make_executor(options, pipeline, tasks=tasks, logging_dir=str(plan.path("logs", stage)),
                                 job_name=f"coit-{stage}", depends=previous)
    final = make_executor(options, [FinalizeStep(plan.work, str(output), overwrite)], tasks=1,
                          logging_dir=str(plan.path("logs", "finalize")), job_name="coit-finalize",
                          depends=previous)
    final.run()
    return {"submitted": True, "job_id": getattr(final, "job_id", None), "work": plan.work,
            "launch_script": str(plan.path("logs", "finalize", "launch_script.slurm"))}


class FinalizeStep(CorpusStep):
    """Last Slurm job: report, card and marker, then the corpus takes its place (see :func:`finalize`)."""

    name = "finalize"

    def __init__(self, work: str, output: str, overwrite: bool):
        super().__init__(work)
        self.output, self.overwrite = output, overwrite

    def process(self, plan: BuildPlan, rank: int) -> None:
        finalize(plan, Path(self.output), overwrite=self.overwrite, elapsed=None, executor=None)


def _stage_seconds(plan: BuildPlan) -> dict[str, float]:
    """Seconds the tasks of each stage ran, summed over tasks (datatrove's time stats): where a build spends time."""
    seconds: dict[str, float] = {}
    for stage in STAGES:
        folder = plan.path("logs", stage, "stats")
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            for step in read_json(path):
                timing = step.get("time_stats") or {}
                total = timing.get("total", 0) if isinstance(timing, dict) else timing
                seconds[stage] = round(seconds.get(stage, 0.0) + float(total or 0), 3)
    return seconds


def _stage_totals(plan: BuildPlan, stage: str) -> Counter[str]:
    """Per-label totals of datatrove's stats files (``stats/<task>.json``) of every task of ``stage``."""
    totals: Counter[str] = Counter()
    folder = plan.path("logs", stage, "stats")
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for step in read_json(path):
            for label, metric in step.get("stats", {}).items():  # a metric is saved as its total or a dict
                totals[label] += int(metric["total"] if isinstance(metric, dict) else metric)
    return totals


def collect_report(plan: BuildPlan, *, elapsed: float | None, executor: ExecutorOptions | None) -> dict[str, Any]:
    """The build report from the tasks' stats and files (per-subset filter counts add up: read = kept + removed)."""
    config = plan.config
    counts = _stage_totals(plan, "read") + _stage_totals(plan, "write")
    subsets: dict[str, dict[str, Any]] = {}
    for label, value in counts.items():
        subset, sep, key = label.partition(STAT_SEP)  # source names may hold "/" (Hub ids); subset names do not
        if not sep:
            continue
        entry = subsets.setdefault(subset, {"read": 0, **{name: 0 for name in FILTERS}, "kept": 0, "train": 0,
                                            "validation": 0, "sources": []})
        if key.startswith("source:"):
            entry["sources"].append(key.removeprefix("source:"))
        else:
            entry[key] = entry.get(key, 0) + value
    ordered = {name: {**subsets[name], "sources": sorted(subsets[name]["sources"])} for name in sorted(
        subsets, key=lambda s: (not s.startswith("translation_"), _first_position(plan, s), s))}
    totals = {key: sum(entry.get(key, 0) for entry in ordered.values())
              for key in ("read", *FILTERS, "kept", "train", "validation")}
    files = {f"{c}/{s}": sorted(p.name for p in plan.path("out", c).glob(f"{s}-*.parquet"))
             for c in ("translation", "general") for s in SPLITS}
    files.update({f"all/{s}": [f"{c}/{name}" for c in ("translation", "general") for name in files[f"{c}/{s}"]]
                  for s in SPLITS})
    rows = {f"{c}/{s}": sum(entry[s] for name, entry in ordered.items()
                            if (name.startswith("translation_") if c == "translation" else
                                not name.startswith("translation_")))
            for c in ("translation", "general") for s in SPLITS}
    rows.update({f"all/{s}": rows[f"translation/{s}"] + rows[f"general/{s}"] for s in SPLITS})
    contaminated: list[dict[str, Any]] = []
    for task in range(plan.tasks):
        path = plan.path("contaminated", f"{task:05d}.json")
        if path.is_file():
            contaminated.extend(read_json(path))
    contaminated.sort(key=lambda entry: entry.pop("pos"))
    read_total = counts.get("records_read", 0)
    return {
        "name": config.name, "direction": config.direction, "name_style": config.name_style,
        "validation_size": config.validation_size, "seed": config.seed,
        "records_read": read_total, "subsets": ordered, "totals": totals, "rows": rows, "files": files,
        "filters": list(FILTERS), "quality": asdict(config.quality),
        "decontamination": {**asdict(config.decontamination),
                            "files": [Path(p).name for p in config.decontamination.files],
                            "ngrams_indexed": plan.extra.get("ngrams_indexed", 0)},
        "contaminated_rows": contaminated[: config.max_reported],
        "sources": [{"name": s.provenance, "type": s.type, "kind": s.kind, "license": s.license,
                     "languages": [s.src_lang, s.tgt_lang] if s.kind == "translation" else [s.lang]}
                    for s in config.sources],
        "tasks": plan.tasks, "dedup_buckets": plan.buckets, "task_seconds": _stage_seconds(plan),
        "executor": executor.kind if executor else "slurm",
        "workers": executor.local_workers(plan.tasks, plan.extra.get("lines")) if executor and executor.kind == "local" else
        (executor.workers if executor else None),
        "elapsed_s": round(elapsed, 3) if elapsed else None,
        "records_per_s": round(read_total / elapsed, 1) if elapsed else None,
    }


def _first_position(plan: BuildPlan, subset: str) -> int:
    for index, spec in enumerate(plan.sources):
        if spec.kind == "translation" and subset.startswith("translation_"):
            langs = {spec.src_lang, spec.tgt_lang}
            if set(subset.removeprefix("translation_").split("-")) == langs:
                return index
        elif spec.kind == "instruction" and subset in (spec.subset, f"alpaca_{spec.lang}"):
            return index
    return len(plan.sources)


def finalize(plan: BuildPlan, output: Path, *, overwrite: bool, elapsed: float | None,
             executor: ExecutorOptions | None) -> dict[str, Any]:
    """Report, checks of the result, card and marker; then the corpus takes the place of ``output``."""
    report = collect_report(plan, elapsed=elapsed, executor=executor)
    _check_kept(report)
    _check_train_left(plan.config, report)
    folder = plan.path("out")
    folder.mkdir(exist_ok=True)
    from coit_hf.data.card import write_dataset_card

    write_dataset_card(folder, plan.config, report)
    write_json(folder / REPORT_FILE, report)
    write_marker(folder, plan.tag)
    check_output(output, overwrite=overwrite, inputs=input_files(plan.config))  # it may have changed meanwhile
    swap_into_place(folder, output)
    shutil.rmtree(plan.work, ignore_errors=True)
    return report


def _check_train_left(config: BuildConfig, report: dict[str, Any]) -> None:
    """A validation row count that takes every kept row of a subset leaves nothing to train on: an error."""
    for subset, entry in report["subsets"].items():
        if entry["kept"] and not entry["train"]:
            raise InputError(f"validation_size {config.validation_size} takes all {entry['kept']} kept rows of "
                             f"{subset}, leaving no training rows; use a smaller count or a fraction",
                             field="validation_size")


def _check_kept(report: dict[str, Any]) -> None:
    """Fail when the filters removed every row (an empty corpus is never what the user meant)."""
    totals = report["totals"]
    if totals["kept"] > 0:
        for subset, entry in report["subsets"].items():
            if entry["kept"] == 0:
                logger.warning("every row of %s was filtered out (%d read)", subset, entry["read"])
        return
    reasons = ", ".join(f"{name} {totals[name]}" for name in FILTERS if totals.get(name))
    raise InputError(f"every row was filtered out ({totals['read']} read; {reasons or 'no rows in the sources'}); "
                     "check the sources, languages and quality: thresholds",
                     path=", ".join(s["name"] for s in report["sources"]))


def format_report_table(report: dict[str, Any]) -> str:
    """The per-subset filter counts of a build report as a plain-text table."""
    columns = ["read", *FILTERS, "kept", "train", "validation"]
    names = [*report["subsets"], "TOTAL"]
    width = max(len(n) for n in names) + 2
    header = "subset".ljust(width) + "".join(f"{c[:12]:>13}" for c in columns)
    lines = [header, "-" * len(header)]
    for name in names:
        entry = report["totals"] if name == "TOTAL" else report["subsets"][name]
        lines.append(name.ljust(width) + "".join(f"{entry.get(c, 0):>13}" for c in columns))
    return "\n".join(lines)
