"""Build a CoIT corpus folder (contract 1): read sources, filter, split, render, write Parquet + card + report.

The folder is written to a temporary sibling and renamed into place at the end, so an error leaves no output
folder. Rows stream from the sources through the filters into batched Parquet writers; only de-duplication
hashes, the decontamination index and (for a fixed-size validation split) that many rows stay in memory.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from coit_hf.data.decontam import DecontamConfig, Decontaminator
from coit_hf.data.quality import FILTERS, FilterStats, QualityConfig, QualityFilter
from coit_hf.data.records import InstructionRecord, ParallelPair, stable_id
from coit_hf.data.render import (
    DIRECTIONS,
    instruction_subset,
    orient,
    pair_id,
    record_id,
    render_instruction,
    render_translation,
)
from coit_hf.data.sources import SourceSpec, iter_source
from coit_hf.data.validate import check_mapping, line_of, read_yaml
from coit_hf.data.writer import ShardedParquetWriter
from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.languages import load_language_file

logger = logging.getLogger(__name__)

CONFIGS: tuple[str, ...] = ("translation", "general", "all")
SPLITS: tuple[str, ...] = ("train", "validation")
REPORT_FILE = "build_report.json"


@dataclass
class BuildConfig:
    """Everything a corpus build needs (the ``coit-hf data build --config`` YAML has these keys).

    Attributes:
        sources: translation and instruction sources (:class:`~coit_hf.data.sources.SourceSpec` fields).
        name: dataset name shown in the card (e.g. ``coit-zh``).
        direction: translation direction, ``en-x`` (paper), ``x-en`` or ``both``.
        name_style: language names in translation instructions: ``friendly`` or ``iso`` (ISO 639-3 names).
        validation_size: per subset: a fraction in (0, 1) (rows chosen by a seeded hash of their id) or a row count
            (the rows with the smallest hashes); 0 = empty validation split.
        seed: salt of the validation hash.
        quality: :class:`~coit_hf.data.quality.QualityConfig` fields.
        decontamination: :class:`~coit_hf.data.decontam.DecontamConfig` fields.
        languages_files: extra language registry files loaded before the build.
        batch_size / shard_rows: Parquet row-group and shard sizes.
        max_reported: at most this many removed (contaminated) rows are listed in the report.
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

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if self.name_style not in ("friendly", "iso"):
            raise ConfigError(f"name_style must be 'friendly' or 'iso', got {self.name_style!r}")
        size = self.validation_size
        if not isinstance(size, int | float) or size < 0 or (isinstance(size, float) and size >= 1):
            raise ConfigError(f"validation_size must be a fraction in [0, 1) or a row count, got {size!r}")
        if isinstance(self.quality, dict):
            self.quality = QualityConfig(**self.quality)
        if isinstance(self.decontamination, dict):
            self.decontamination = DecontamConfig(**self.decontamination)
        self.sources = [s if isinstance(s, SourceSpec) else SourceSpec.from_dict(s) for s in self.sources]

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> BuildConfig:
        """Read a build config; relative file paths in it are taken relative to the config file."""
        path = Path(path)
        data = read_yaml(path, "build config") or {}
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


class _ValidationSplitter:
    """Decides per subset which rows go to validation, deterministically from a seeded hash of the row id."""

    def __init__(self, size: float | int, seed: int):
        self.size, self.seed = size, seed
        self._heaps: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)
        self._counter = 0

    def _hash(self, row_id: str) -> int:
        return int(stable_id(str(self.seed), row_id), 16)

    def offer(self, subset: str, row_id: str, item: Any) -> tuple[list[Any], bool]:
        """Return (items released to train, whether ``item`` went straight to validation)."""
        if not self.size:
            return [item], False
        value = self._hash(row_id)
        if isinstance(self.size, float):
            return ([], True) if value / 2**64 < self.size else ([item], False)
        heap = self._heaps[subset]
        self._counter += 1
        entry = (-value, self._counter, item)  # max-heap on the hash: keep the `size` smallest
        if len(heap) < self.size:
            heapq.heappush(heap, entry)
            return [], False
        if entry > heap[0]:
            evicted = heapq.heapreplace(heap, entry)
            return [evicted[2]], False
        return [item], False

    def held(self) -> dict[str, list[Any]]:
        """Rows kept for validation (fixed-size mode), per subset, in reading order."""
        return {subset: [e[2] for e in sorted(heap, key=lambda e: e[1])] for subset, heap in self._heaps.items()}


def _fresh_output_dir(output: Path, overwrite: bool) -> Path:
    if output.exists() and not overwrite:
        raise ConfigError(f"output folder {output} exists; pass --overwrite to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(output)
    return Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-{os.getpid()}-", dir=output.parent))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_stale_temp_dirs(output: Path) -> None:
    """Remove ``.<name>.tmp-<pid>-*`` / ``.<name>.old-<pid>`` siblings left by a build that was killed."""
    for sibling in output.parent.glob(f".{output.name}.*-*"):
        kind, _, rest = sibling.name[len(output.name) + 2:].partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("tmp", "old") and pid.isdigit() and not _pid_alive(int(pid)) and sibling.is_dir():
            logger.info("removing %s, left by an interrupted build (process %s)", sibling, pid)
            shutil.rmtree(sibling, ignore_errors=True)


def build_corpus(config: BuildConfig, output_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 progress: bool = True) -> dict[str, Any]:
    """Build the corpus folder ``output_dir`` from ``config``; returns the build report (also in the folder).

    Layout: ``README.md`` (card with ``configs:`` YAML), ``<config>/<split>-NNNNN-of-MMMMM.parquet`` for the configs
    ``translation``, ``general`` and ``all`` and the splits ``train`` and ``validation``, and ``build_report.json``.
    Raises :class:`InputError` / :class:`ConfigError` on bad input; nothing is left at ``output_dir`` then.
    """
    if not config.sources:
        raise ConfigError("a build needs at least one source")
    output = Path(output_dir)
    try:
        tmp = _fresh_output_dir(output, overwrite)
    except OSError as exc:
        raise CoitError(f"cannot create a folder next to {output}: {exc.strerror or exc}") from exc
    try:
        report = _build_into(config, tmp, progress=progress)
        _check_kept(report)
        from coit_hf.data.card import write_dataset_card

        write_dataset_card(tmp, config, report)
        (tmp / REPORT_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if output.exists():
            old = output.with_name(f".{output.name}.old-{os.getpid()}")
            output.rename(old)
            tmp.rename(output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(output)
    except OSError as exc:  # full disk, permissions, ...: a clean message, and the temp folder goes
        shutil.rmtree(tmp, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise CoitError(f"building the corpus {output} failed: {exc.strerror or exc}{where}; nothing was "
                        f"written at {output}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


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


def _build_into(config: BuildConfig, root: Path, *, progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    decontaminator = Decontaminator(config.decontamination) if config.decontamination.files else None
    quality = QualityFilter(config.quality, decontaminator)
    writers = {(c, s): ShardedParquetWriter(root, c, s, batch_size=config.batch_size, shard_rows=config.shard_rows)
               for c in CONFIGS for s in SPLITS}
    splitter = _ValidationSplitter(config.validation_size, config.seed)
    stats: dict[str, FilterStats] = defaultdict(FilterStats)
    train_index: dict[str, int] = defaultdict(int)
    split_counts: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "validation": 0})
    subset_sources: dict[str, set[str]] = defaultdict(set)
    removed: list[dict[str, Any]] = []
    read_total = 0

    def emit(row: dict[str, Any], split: str) -> None:
        config_name = "translation" if row["task"] == "translation" else "general"
        writers[(config_name, split)].write(row)
        writers[("all", split)].write(row)
        split_counts[row["subset"]][split] += 1

    def render(item: tuple[str, Any], split: str) -> dict[str, Any]:
        kind, record = item
        if kind == "pair":
            subset = f"translation_{record.src_lang}-{record.tgt_lang}"
            index = 0
            if split == "train":
                index = train_index[subset]
                train_index[subset] += 1
            return render_translation(record, index=index, name_style=config.name_style)
        subset, record = record
        return render_instruction(record, subset)

    def route(subset: str, row_id: str, item: tuple[str, Any]) -> None:
        released, to_validation = splitter.offer(subset, row_id, item)
        if to_validation:
            emit(render(item, "validation"), "validation")
        for train_item in released:
            emit(render(train_item, "train"), "train")

    # translation sources first, then instruction sources: the `all` config lists them in that order
    ordered = [s for s in config.sources if s.kind == "translation"] + [s for s in config.sources
                                                                          if s.kind == "instruction"]
    for spec in ordered:
        bar = tqdm(iter_source(spec), desc=spec.provenance[:40], unit=" rows", disable=not progress,
                   mininterval=1.0)
        for record in bar:
            read_total += 1
            if isinstance(record, ParallelPair):
                oriented = orient(record, config.direction)
                subsets = [f"translation_{p.src_lang}-{p.tgt_lang}" for p in oriented]
                ids = [pair_id(p) for p in oriented]
                items: list[tuple[str, Any]] = [("pair", p) for p in oriented]
            else:
                assert isinstance(record, InstructionRecord)
                subset = instruction_subset(record, spec.subset)
                subsets, ids, items = [subset], [record_id(record, subset)], [("instruction", (subset, record))]
            for subset in subsets:
                stats[subset].read += 1
                subset_sources[subset].add(spec.provenance if spec.type != "gettext" else "gettext")
            reason = quality.check(record)
            if reason is not None:
                for subset in subsets:
                    stats[subset].rejected[reason] += 1
                if reason == "contaminated" and len(removed) < config.max_reported:
                    match = quality.last_match
                    removed.append({
                        "id": ids[0], "subset": subsets[0], "source": record.source, "line": record.line,
                        "eval_file": match.eval_file if match else None, "ngram": match.ngram if match else None,
                    })
                continue
            for subset, row_id, item in zip(subsets, ids, items, strict=True):
                stats[subset].kept += 1
                route(subset, row_id, item)
        bar.close()
    for held in splitter.held().values():
        for item in held:
            emit(render(item, "validation"), "validation")
    files = {f"{c}/{s}": [p.name for p in writer.close()] for (c, s), writer in writers.items()}
    elapsed = time.perf_counter() - started
    subsets_report = {
        subset: {**stats[subset].as_dict(), **split_counts[subset], "sources": sorted(subset_sources[subset])}
        for subset in stats
    }
    totals = {key: sum(entry[key] for entry in subsets_report.values())
              for key in ("read", *FILTERS, "kept", "train", "validation")}
    rows = {f"{c}/{s}": writers[(c, s)].rows for c in CONFIGS for s in SPLITS}
    return {
        "name": config.name, "direction": config.direction, "name_style": config.name_style,
        "validation_size": config.validation_size, "seed": config.seed,
        "records_read": read_total, "subsets": subsets_report, "totals": totals, "rows": rows, "files": files,
        "filters": list(FILTERS), "quality": asdict(config.quality),
        "decontamination": {**asdict(config.decontamination),
                            "files": [Path(p).name for p in config.decontamination.files],
                            "ngrams_indexed": len(decontaminator) if decontaminator else 0},
        "contaminated_rows": removed,
        "sources": [{"name": s.provenance, "type": s.type, "kind": s.kind, "license": s.license,
                     "languages": [s.src_lang, s.tgt_lang] if s.kind == "translation" else [s.lang]}
                    for s in config.sources],
        "elapsed_s": round(elapsed, 3), "records_per_s": round(read_total / elapsed, 1) if elapsed else None,
    }


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
