"""Decontamination: remove training rows that share an n-gram with evaluation text (XQuAD/MLQA, Flores).

Evaluation texts are indexed as n-grams: word n-grams for languages written with spaces, character n-grams for
scripts written without (Han, Japanese kana, Thai...), decided per text from its dominant script. An evaluation
text shorter than ``n`` (a short question or sentence) is indexed whole when it has at least ``min_tokens``
tokens, so it is still caught when a training row contains it.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from coit_hf.errors import InputError
from coit_hf.files import iter_jsonl, iter_text_lines, read_json
from coit_hf.writing_systems import dominant_script

logger = logging.getLogger(__name__)

CHAR_SEGMENTED_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar", "Tibetan"})
_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass
class DecontamConfig:
    """Which evaluation files to protect and how overlap is measured.

    Attributes:
        files: evaluation files: SQuAD-format JSON (XQuAD, MLQA: contexts and questions), Flores-style text files
            (one sentence per line), JSONL (every string value) or Parquet (every string column).
        word_ngram: n of word n-grams (space-separated languages).
        char_ngram: n of character n-grams (languages written without spaces).
        min_word_tokens / min_char_tokens: shorter evaluation texts are not indexed (too generic to mean a leak).
    """

    files: list[str] = field(default_factory=list)
    word_ngram: int = 8
    char_ngram: int = 12
    min_word_tokens: int = 5
    min_char_tokens: int = 8


def tokens_of(text: str) -> tuple[list[str], str]:
    """Overlap tokens of ``text`` and the mode used: ("char" for scripts without spaces, else "word")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if dominant_script(folded) in CHAR_SEGMENTED_SCRIPTS:
        return list(_NON_WORD.sub("", folded)), "char"
    return _WORD.findall(folded), "word"


@dataclass(frozen=True)
class Match:
    """A leak: the evaluation file and the shared n-gram."""

    eval_file: str
    ngram: str


class Decontaminator:
    """An n-gram index of evaluation texts; :meth:`find` tells whether a text overlaps any of them."""

    def __init__(self, config: DecontamConfig | None = None):
        self.config = config or DecontamConfig()
        self._index: dict[str, str] = {}  # "mode:ngram" -> evaluation file
        self._sizes: dict[str, set[int]] = {"word": {self.config.word_ngram}, "char": {self.config.char_ngram}}
        self.texts_indexed = 0
        for path in self.config.files:
            self.add_file(path)

    def __len__(self) -> int:
        return len(self._index)

    def _n(self, mode: str) -> int:
        return self.config.char_ngram if mode == "char" else self.config.word_ngram

    def _join(self, mode: str, grams: Iterable[str]) -> str:
        return ("" if mode == "char" else " ").join(grams)

    def add_text(self, text: str, origin: str) -> None:
        """Index one evaluation text (a context, question or sentence)."""
        tokens, mode = tokens_of(text)
        n = self._n(mode)
        minimum = self.config.min_char_tokens if mode == "char" else self.config.min_word_tokens
        if len(tokens) < minimum:
            return
        self.texts_indexed += 1
        if len(tokens) < n:
            self._sizes[mode].add(len(tokens))
            self._index.setdefault(f"{mode}:{self._join(mode, tokens)}", origin)
            return
        for start in range(len(tokens) - n + 1):
            self._index.setdefault(f"{mode}:{self._join(mode, tokens[start:start + n])}", origin)

    def add_texts(self, texts: Iterable[str], origin: str) -> None:
        """Index many evaluation texts from one origin."""
        for text in texts:
            if text:
                self.add_text(text, origin)

    def add_file(self, path: str | os.PathLike[str]) -> None:
        """Index an evaluation file (format detected from its suffix and content; see :class:`DecontamConfig`)."""
        path = Path(path)
        before = self.texts_indexed
        self.add_texts(iter_eval_texts(path), path.name)
        logger.info("decontamination: indexed %d texts of %s", self.texts_indexed - before, path)

    def find(self, text: str) -> Match | None:
        """The first evaluation n-gram found in ``text``, or None."""
        if not text or not self._index:
            return None
        tokens, mode = tokens_of(text)
        for n in sorted(self._sizes[mode], reverse=True):
            for start in range(len(tokens) - n + 1):
                key = f"{mode}:{self._join(mode, tokens[start:start + n])}"
                origin = self._index.get(key)
                if origin is not None:
                    return Match(origin, key.split(":", 1)[1])
        return None


def iter_squad_texts(path: Path) -> Iterator[str]:
    """Contexts and questions of a SQuAD-format file (XQuAD, MLQA)."""
    data = read_json(path, missing="evaluation file not found")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise InputError("expected SQuAD-format JSON with a 'data' list", path=path)
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            yield paragraph.get("context", "")
            for qa in paragraph.get("qas", []):
                yield qa.get("question", "")


def iter_eval_texts(path: Path) -> Iterator[str]:
    """Every evaluation text of a file: SQuAD JSON, JSONL, Parquet, or one sentence per line."""
    if path.is_dir():
        raise InputError("is a directory, expected an evaluation file", path=path)
    if not path.is_file():
        raise InputError("evaluation file not found", path=path)
    if path.suffix == ".json":
        yield from iter_squad_texts(path)
    elif path.suffix == ".jsonl":
        for _, row in iter_jsonl(path):
            yield from (value for value in row.values() if isinstance(value, str))
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=10_000):
            for column in batch.columns:
                if column.type in ("string", "large_string"):
                    yield from (value for value in column.to_pylist() if value)
    else:
        for _, line in iter_text_lines(path):
            yield line
