"""Plan of a distributed corpus build: the ordered sources cut into tasks, the work folder and its fingerprint.

Every task reads one *unit*: a line range of a line-based source (parallel files, TSV, JSONL) or a whole source
of another format (JSON arrays, TMX, gettext, Hub datasets are read by one task). A record's position (source
index, line or record index) fixes its place in the output, so rows and their order do not depend on how many
tasks or workers ran.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coit_hf.data.sources import LINE_RANGE_TYPES, SourceSpec, is_json_array
from coit_hf.files import replacing, require_file

if TYPE_CHECKING:
    from coit_hf.data.build import BuildConfig

PLAN_FILE = "plan.pkl"
POSITION_BITS = 40
"""A record's position is ``source_index << POSITION_BITS | index within the source``."""

LINE_INDEXED_TYPES = ("parallel", "tsv", "jsonl", "tmx", "mo", "hf")
"""Types whose records carry their line (TMX unit, .mo entry, dataset row) number, blank/skipped ones counted."""


@dataclass(frozen=True)
class Unit:
    """The records one task reads: source ``source`` (index into :attr:`BuildPlan.sources`), 0-based lines
    [start, stop) of a line-based source (stop None = to the end)."""

    source: int
    start: int = 0
    stop: int | None = None


@dataclass
class BuildPlan:
    """What every task of a build needs; pickled into the work folder so cluster tasks can load it."""

    config: BuildConfig
    sources: list[SourceSpec]
    units: list[Unit]
    buckets: int
    work: str
    tag: str
    decontamination_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> int:
        return len(self.units)

    @property
    def count_validation(self) -> bool:
        """Whether the validation split is a row count per subset (needs a global selection pass)."""
        return isinstance(self.config.validation_size, int) and self.config.validation_size > 0

    def path(self, *parts: str) -> Path:
        return Path(self.work, *parts)

    def save(self) -> None:
        with replacing(self.path(PLAN_FILE)) as tmp, tmp.open("wb") as handle:
            pickle.dump(self, handle)


_PLANS: dict[tuple[str, int, int], BuildPlan] = {}


def load_plan(work: str) -> BuildPlan:
    """The plan saved in ``work`` (cached per process and plan file version: a task process loads it once)."""
    stat = Path(work, PLAN_FILE).stat()
    key = (work, stat.st_mtime_ns, stat.st_ino)
    if key not in _PLANS:
        with open(Path(work, PLAN_FILE), "rb") as handle:
            plan = pickle.load(handle)
        from coit_hf.languages import load_language_file

        for languages_file in plan.config.languages_files:
            load_language_file(languages_file)
        _PLANS.clear()
        _PLANS[key] = plan
    return _PLANS[key]


def count_lines(path: str | os.PathLike[str], *, chunk: int = 1 << 24) -> int:
    """Number of lines of a file (a last line without a newline counts)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def is_line_splittable(spec: SourceSpec) -> bool:
    """Whether a source can be split into line ranges read by different tasks."""
    line_based = spec.type in LINE_RANGE_TYPES or (spec.type == "alpaca" and not is_json_array(spec))
    return line_based and spec.max_rows is None


def input_files(config: BuildConfig) -> list[Path]:
    """Every local file a build reads (sources, decontamination files, language files)."""
    files: list[Path] = []
    for spec in config.sources:
        if spec.type == "parallel":
            files.extend(Path(p) for p in spec.paths or [])
        elif spec.type not in ("hf", "gettext") and spec.path:
            files.append(Path(spec.path))
        elif spec.type == "gettext" and spec.locale_dir:
            files.append(Path(spec.locale_dir))
    files.extend(Path(p) for p in config.decontamination.files)
    files.extend(Path(p) for p in config.languages_files)
    return files


def ordered_sources(config: BuildConfig) -> list[SourceSpec]:
    """Translation sources first, then instruction sources: the ``all`` config lists them in that order."""
    return ([s for s in config.sources if s.kind == "translation"] +
            [s for s in config.sources if s.kind == "instruction"])


def make_units(sources: list[SourceSpec], task_lines: int) -> tuple[list[Unit], int]:
    """Cut the sources into units; returns them and the number of input lines seen (an estimate of the rows)."""
    units: list[Unit] = []
    total = 0
    for index, spec in enumerate(sources):
        paths = spec.paths if spec.type == "parallel" else [spec.path] if spec.type not in ("hf", "gettext") else []
        for path in paths or []:
            require_file(path or "")
        if not is_line_splittable(spec):
            units.append(Unit(index))
            continue
        lines = count_lines((spec.paths or [spec.path])[0] or "")
        total += lines
        starts = list(range(0, max(lines, 1), task_lines))
        for number, start in enumerate(starts):
            last = number == len(starts) - 1
            units.append(Unit(index, start, None if last else start + task_lines))
    return units, total


def fingerprint(config: BuildConfig, extra: dict[str, Any]) -> str:
    """Hash of the build's settings and of every input file's name, size and time: equal means resumable."""
    from coit_hf import __version__

    digest = hashlib.blake2b(digest_size=12)
    settings = asdict(config)
    digest.update(json.dumps({"config": settings, "extra": extra, "version": __version__}, sort_keys=True,
                             default=str).encode())
    for path in input_files(config):
        try:
            stat = path.stat()
            digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()
