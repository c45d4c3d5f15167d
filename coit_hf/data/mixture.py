"""Training mixtures: TRL's ``DatasetMixtureConfig`` plus a seed, ``subset`` filters and ``num_rows``
slices, read from YAML or from the paper's shorthand ``translation_en-zh[:100000]+alpaca_en+alpaca_zh``.

Example YAML::

    seed: 42
    datasets:
      - {path: org/coit-zh, name: translation, split: train, subset: translation_en-zh, num_rows: 100000}
      - {path: org/coit-zh, name: general, subset: alpaca_zh}
    test_split_size: null
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from trl.scripts.utils import DatasetConfig, DatasetMixtureConfig

from coit_hf.data.validate import check_mapping
from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.files import field_lines, line_of, read_yaml, write_text

logger = logging.getLogger(__name__)

_ITEM = re.compile(r"^(?P<subset>[A-Za-z0-9_\-]+)(?:\[:(?P<num>\d+)\])?$")


@dataclass
class CoitDatasetConfig(DatasetConfig):
    """TRL's :class:`~trl.scripts.utils.DatasetConfig` plus coit extras.

    Parameters:
        subset (`str`, *optional*): keep only rows whose ``subset`` column equals this (e.g. ``translation_en-zh``).
        num_rows (`int`, *optional*): keep the first ``num_rows`` rows after the subset filter (shorthand ``[:N]``).
    """

    subset: str | None = None
    num_rows: int | None = None

    def __post_init__(self) -> None:
        problem = _entry_problem(dataclasses.asdict(self))
        if problem:
            raise ConfigError(f"{problem[0]} {problem[1]}")


@dataclass
class CoitMixtureConfig(DatasetMixtureConfig):
    """TRL's :class:`~trl.scripts.utils.DatasetMixtureConfig` with coit datasets, a seed and an optional shuffle.

    Parameters:
        datasets: list of :class:`CoitDatasetConfig` (mappings are converted).
        seed: seed of the shuffle and of the train/test split.
        shuffle: shuffle the concatenated mixture with ``seed`` (the trainer shuffles anyway; off keeps source order).
    """

    datasets: list[CoitDatasetConfig] = field(
        default_factory=list, metadata={"help": "Datasets of the mixture (TRL DatasetConfig fields plus subset, num_rows)."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of the shuffle and of the train/test split."})
    shuffle: bool = field(default=False, metadata={"help": "Shuffle the concatenated mixture with `seed`."})

    def __post_init__(self) -> None:
        allowed = {f.name for f in dataclasses.fields(CoitDatasetConfig)}
        converted = []
        for index, dataset in enumerate(self.datasets):
            if isinstance(dataset, CoitDatasetConfig):
                converted.append(dataset)
                continue
            if isinstance(dataset, DatasetConfig):
                dataset = dataclasses.asdict(dataset)
            if not isinstance(dataset, Mapping):
                raise ConfigError(f"datasets[{index}] must be a mapping, got {type(dataset).__name__}")
            unknown = set(dataset) - allowed
            if unknown:
                raise ConfigError(f"datasets[{index}] has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
            if "path" not in dataset:
                raise ConfigError(f"datasets[{index}] needs a path (corpus folder or Hub id)")
            converted.append(CoitDatasetConfig(**dataset))
        self.datasets = converted
        problem = _mixture_problem(self.to_dict())
        if problem:
            raise ConfigError(f"{problem[0]} {problem[1]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (defaults of the dataset entries left out) in the YAML layout."""
        defaults = CoitDatasetConfig(path="")
        datasets = [{k: v for k, v in dataclasses.asdict(d).items() if k == "path" or v != getattr(defaults, k)}
                    for d in self.datasets]
        return {"seed": self.seed, "datasets": datasets, "streaming": self.streaming, "shuffle": self.shuffle,
                "test_split_size": self.test_split_size}

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write the mixture as YAML (temp file then rename) and return the path."""
        path = Path(path)
        try:
            write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))
        except OSError as exc:  # e.g. a full disk: neither a partial file nor the temp is left
            raise CoitError(f"cannot write the mixture file {path}: {exc.strerror or exc}") from exc
        return path


def _entry_problem(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, what is wrong) for the first bad number of one mixture entry, or None."""
    num_rows, fraction = entry.get("num_rows"), entry.get("fraction")
    if num_rows is not None and (not isinstance(num_rows, int) or isinstance(num_rows, bool) or num_rows < 1):
        return "num_rows", f"must be a whole number of rows >= 1 (leave it out to take every row), got {num_rows!r}"
    if fraction is not None and (not isinstance(fraction, int | float) or isinstance(fraction, bool)
                                 or not math.isfinite(fraction) or fraction <= 0):
        return "fraction", f"must be a finite number > 0 (leave the entry out to take none), got {fraction!r}"
    return None


def _slice_of(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """What rows an entry reads, ignoring how many: every slice starts at the first row, so two entries with the
    same source overlap whatever their ``num_rows``."""
    files = entry.get("data_files")
    return (str(entry.get("path")), entry.get("name"), entry.get("data_dir"), repr(files), entry.get("split", "train"))


def _mixture_problem(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, what is wrong) for the first bad mixture-level value or repeated slice, or None."""
    seed = data.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        return "seed", f"must be a whole number from 0 to 2**32 - 1, got {seed!r}"
    size = data.get("test_split_size")
    if size is not None:
        whole = isinstance(size, int) and not isinstance(size, bool)
        if not (whole and size >= 1) and not (isinstance(size, float) and 0 < size < 1):
            return "test_split_size", f"must be a fraction in (0, 1) or a row count >= 1, got {size!r}"
    entries = [e for e in data.get("datasets") or [] if isinstance(e, Mapping)]
    fractions = [e.get("fraction") for e in entries]
    if any(f is not None for f in fractions) and any(f is None for f in fractions):
        index = next(i for i, f in enumerate(fractions) if f is None)
        return f"datasets[{index}].fraction", "`fraction` must be set for either all datasets of the mixture or none"
    for index, entry in enumerate(entries):
        for before, earlier in enumerate(entries[:index]):
            subsets = (earlier.get("subset"), entry.get("subset"))
            if _slice_of(earlier) == _slice_of(entry) and (None in subsets or subsets[0] == subsets[1]):
                what = f"subset {subsets[1]!r}" if subsets[0] == subsets[1] else "rows"
                return f"datasets[{index}]", (
                    f"repeats the {what} of datasets[{before}] ({entry.get('path')}, {entry.get('name')}): the "
                    "same rows would be trained on twice; give each subset once (num_rows sets how many rows)")
    return None


def load_mixture_file(path: str | os.PathLike[str]) -> CoitMixtureConfig:
    """Read a mixture YAML; errors name the file."""
    path = Path(path)
    data = read_yaml(path, "mixture file")
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
        what = "the file is empty" if data is None else "a mixture file is a mapping with a 'datasets:' list"
        raise InputError(f"{what}; expected a mapping with a 'datasets:' list", path=path, field="datasets")
    if not data["datasets"]:
        raise InputError("the mixture lists no datasets", path=path, line=line_of(path, "datasets"), field="datasets")
    check_mapping(CoitMixtureConfig, data, path=path)
    lines = field_lines(path)
    for index, entry in enumerate(data["datasets"]):
        check_mapping(CoitDatasetConfig, entry, path=path, prefix=f"datasets[{index}].")
        problem = _entry_problem(entry)
        if problem:
            field_name = f"datasets[{index}].{problem[0]}"
            raise InputError(problem[1], path=path, line=lines.get(field_name), field=field_name)
    problem = _mixture_problem(data)
    if problem:
        raise InputError(problem[1], path=path, line=lines.get(problem[0]), field=problem[0])
    try:
        return CoitMixtureConfig(**data)
    except ConfigError as exc:
        raise InputError(str(exc), path=path, field="datasets") from None


def _subset_language(subset: str) -> str | None:
    """The non-English language of a subset name (``translation_en-zh`` → zh, ``alpaca_zh`` → zh, ``alpaca_en`` → en)."""
    tail = subset.rsplit("_", 1)[-1]
    codes = [c for c in tail.split("-") if c]
    non_english = [c for c in codes if c != "en"]
    return non_english[0] if non_english else (codes[0] if codes else None)


def parse_shorthand(text: str, corpus: str | os.PathLike[str] | Mapping[str, str], *, seed: int = 42,
                    split: str = "train") -> CoitMixtureConfig:
    """Resolve the paper's shorthand against a corpus.

    ``text`` is ``+``-separated subset names, each optionally sliced ``[:N]`` (first N rows), e.g.
    ``translation_en-zh[:100000]+alpaca_en+alpaca_zh``. ``translation_*`` subsets come from the corpus config
    ``translation``, the others from ``general``. ``corpus`` is a corpus folder / Hub id, or for m-models a mapping
    language → corpus (``{"zh": "org/coit-zh", "ar": "org/coit-ar"}``): each subset is taken from the corpus of its
    non-English language (``alpaca_en`` from the ``en`` entry if present, else from the first corpus).
    """
    items = [part.strip() for part in text.split("+")]
    if not text.strip() or any(not part for part in items):
        raise ConfigError(f"empty item in mixture shorthand {text!r}")
    datasets = []
    for part in items:
        match = _ITEM.match(part)
        if not match:
            raise ConfigError(f"cannot parse mixture item {part!r}; expected NAME or NAME[:N], e.g. translation_en-zh[:1000]")
        subset = match["subset"]
        if isinstance(corpus, Mapping):
            if not corpus:
                raise ConfigError("the corpus mapping is empty")
            lang = _subset_language(subset)
            path = corpus.get(lang) if lang in corpus else next(iter(corpus.values())) if lang == "en" else None
            if path is None:
                raise ConfigError(f"no corpus for language {lang!r} of {subset!r}; corpora: {sorted(corpus)}")
        else:
            path = corpus
        datasets.append(CoitDatasetConfig(
            path=str(path), name="translation" if subset.startswith("translation_") else "general", split=split,
            subset=subset, num_rows=int(match["num"]) if match["num"] is not None else None,
        ))
    return CoitMixtureConfig(datasets=datasets, seed=seed)


def _load_one(config: CoitDatasetConfig, streaming: bool):
    from coit_hf.data.loading import load_corpus

    try:
        dataset = load_corpus(config.path, config.name, data_dir=config.data_dir,
                              data_files=config.data_files, split=config.split, streaming=streaming)
    except Exception as exc:  # noqa: BLE001 - any loading failure names the dataset for the user
        raise InputError(f"cannot load {config.name or 'default'}/{config.split}: {type(exc).__name__}: {exc}",
                         path=config.path) from exc
    if config.subset is not None:
        if "subset" not in dataset.column_names:
            raise InputError(f"dataset has no 'subset' column to select {config.subset!r}", path=config.path,
                             field="subset")
        wanted = config.subset
        dataset = dataset.filter(lambda value: value == wanted, input_columns="subset")
    if config.num_rows is not None:
        if streaming:
            dataset = dataset.take(config.num_rows)
        else:
            if len(dataset) < config.num_rows:
                logger.warning("%s %s has %d rows, fewer than the %d asked for; using all", config.path,
                               config.subset or "", len(dataset), config.num_rows)
            dataset = dataset.select(range(min(config.num_rows, len(dataset))))
    if not streaming and config.subset is not None and len(dataset) == 0:
        raise InputError(f"no rows with subset {config.subset!r}", path=config.path, field="subset")
    if config.columns is not None:
        dataset = dataset.select_columns(config.columns)
    return dataset


def load_mixture(config: CoitMixtureConfig):
    """Load a mixture as a ``datasets.DatasetDict`` (``train``, plus ``test`` when ``test_split_size`` is set).

    Each entry is loaded with ``load_dataset``, filtered to its ``subset``, sliced to ``num_rows``; ``fraction``
    follows TRL's semantics (shares normalised to one, no oversampling); then the parts are concatenated in order,
    optionally shuffled with ``seed``.
    """
    import datasets

    if not config.datasets:
        raise ConfigError("the mixture lists no datasets")
    parts = [_load_one(entry, config.streaming) for entry in config.datasets]
    fractions = [entry.fraction for entry in config.datasets]
    if any(f is not None for f in fractions):
        if any(f is None for f in fractions):
            raise ConfigError("`fraction` must be set for either all datasets in the mixture or none of them")
        if config.streaming:
            raise ConfigError("`fraction` is not supported with streaming datasets")
        weights = [f / sum(fractions) for f in fractions]
        total = min(len(part) / weight for part, weight in zip(parts, weights, strict=True) if weight > 0)
        parts = [part.select(range(round(weight * total))) for part, weight in zip(parts, weights, strict=True)]
    combined = datasets.concatenate_datasets(parts)
    if config.shuffle:
        combined = combined.shuffle(seed=config.seed)
    if config.test_split_size is not None:
        if config.streaming:
            raise ConfigError("test_split_size is not supported with streaming datasets")
        try:
            return combined.train_test_split(test_size=config.test_split_size, seed=config.seed)
        except ValueError as exc:  # e.g. a test split as large as the mixture: no training rows would remain
            raise ConfigError(f"test_split_size {config.test_split_size!r} does not fit the mixture's {len(combined)} "
                              f"rows: {exc}") from None
    return datasets.DatasetDict({"train": combined}) if not config.streaming else \
        datasets.IterableDatasetDict({"train": combined})
