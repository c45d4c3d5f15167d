"""Normalised records: the unit every source yields and every later step consumes.

A source yields either :class:`ParallelPair` (a sentence and its translation) or :class:`InstructionRecord`
(an Alpaca-style instruction/input/output triple). Text is normalised once, here: Unicode NFC, line endings and
runs of horizontal whitespace collapsed, surrounding whitespace stripped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

_HSPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# zero-width characters, and C0/DEL control characters other than tab and newline (NUL bytes in text break tools)
_ZERO_WIDTH = re.compile(r"[\u200b\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_text(text: str | None) -> str:
    """Return ``text`` in NFC with zero-width spaces removed, whitespace runs collapsed and ends stripped.

    Control characters (NUL and the other C0 codes except tab and newline, DEL) are removed.
    Newlines inside the text are kept (instruction data uses them), but ``\\r\\n``/``\\r`` become ``\\n``, spaces
    around newlines are dropped and more than two newlines in a row become two.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = _ZERO_WIDTH.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def stable_id(*parts: str, length: int = 16) -> str:
    """A stable hex id (blake2b) of the given parts: the same source and content always give the same id."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:length]


@dataclass(slots=True)
class ParallelPair:
    """One aligned sentence pair: ``src`` in ``src_lang``, ``tgt`` in ``tgt_lang``.

    ``source`` names where it came from (file name or dataset id), ``line`` the 1-based line/row there.
    """

    src: str
    tgt: str
    src_lang: str
    tgt_lang: str
    source: str
    line: int | None = None


@dataclass(slots=True)
class InstructionRecord:
    """One instruction-following example (Alpaca schema) whose output is written in ``lang``."""

    instruction: str
    input: str
    output: str
    lang: str
    source: str
    line: int | None = None
    id: str | None = None
