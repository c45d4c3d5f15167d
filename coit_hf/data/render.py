"""Render kept records as corpus rows: Alpaca columns, provenance, subset and chat ``messages``.

Translation pairs become instruction rows: one of the English translation-instruction paraphrases
(:data:`coit_hf.templates.TRANSLATION_INSTRUCTIONS`), round-robin by training-row index, always the first one for
validation/test rows; the source sentence is the input and the target sentence the output.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from coit_hf.data.records import InstructionRecord, ParallelPair, stable_id
from coit_hf.errors import ConfigError
from coit_hf.templates import assistant_message, translation_instruction, user_message

DIRECTIONS = ("en-x", "x-en", "both")
"""Translation directions: English→X (the paper's default), X→English, or both."""

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string()), ("instruction", pa.string()),
                          ("input", pa.string())])
CORPUS_SCHEMA = pa.schema([
    ("id", pa.string()), ("instruction", pa.string()), ("input", pa.string()), ("output", pa.string()),
    ("lang", pa.string()), ("task", pa.string()), ("source", pa.string()), ("subset", pa.string()),
    ("messages", pa.list_(MESSAGE_TYPE)),
])
"""Arrow schema of every corpus Parquet file."""


def translation_subset(src_lang: str, tgt_lang: str) -> str:
    """Subset name of translation rows in one direction, e.g. ``translation_en-zh``."""
    return f"translation_{src_lang}-{tgt_lang}"


def instruction_subset(record: InstructionRecord, override: str | None = None) -> str:
    """Subset name of an instruction source, e.g. ``alpaca_zh``."""
    return override or f"alpaca_{record.lang}"


def orient(pair: ParallelPair, direction: str) -> list[ParallelPair]:
    """The pair in the requested direction(s): ``en-x`` puts English on the source side (as declared when neither
    side is English), ``x-en`` on the target side, ``both`` gives both."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    reverse = ParallelPair(pair.tgt, pair.src, pair.tgt_lang, pair.src_lang, pair.source, pair.line)
    english_first = pair if pair.tgt_lang != "en" or pair.src_lang == "en" else reverse
    english_last = reverse if english_first is pair else pair
    if direction == "en-x":
        return [english_first]
    if direction == "x-en":
        return [english_last]
    return [english_first, english_last]


def pair_id(pair: ParallelPair) -> str:
    """Stable id of an oriented translation row (subset, source and both texts)."""
    return stable_id(translation_subset(pair.src_lang, pair.tgt_lang), pair.source, pair.src, pair.tgt)


def record_id(record: InstructionRecord, subset: str) -> str:
    """Stable id of an instruction row (subset, source and content)."""
    return stable_id(subset, record.source, record.instruction, record.input, record.output)


def make_row(row_id: str, instruction: str, input_text: str, output: str, *, lang: str, task: str, source: str,
             subset: str) -> dict[str, Any]:
    """One corpus row with its chat ``messages`` (templates.user_message / assistant_message)."""
    return {
        "id": row_id, "instruction": instruction, "input": input_text, "output": output, "lang": lang, "task": task,
        "source": source, "subset": subset,
        "messages": [user_message(instruction, input_text), assistant_message(output)],
    }


def render_translation(pair: ParallelPair, *, index: int, name_style: str = "friendly") -> dict[str, Any]:
    """Corpus row of an oriented pair; ``index`` picks the instruction paraphrase (0 for validation/test)."""
    instruction = translation_instruction(pair.src_lang, pair.tgt_lang, index=index, name_style=name_style)
    return make_row(pair_id(pair), instruction, pair.src, pair.tgt, lang=pair.tgt_lang, task="translation",
                    source=pair.source, subset=translation_subset(pair.src_lang, pair.tgt_lang))


def render_instruction(record: InstructionRecord, subset: str) -> dict[str, Any]:
    """Corpus row of an instruction record (language of its output in ``lang``)."""
    return make_row(record_id(record, subset), record.instruction, record.input, record.output, lang=record.lang,
                    task="general", source=record.source, subset=subset)
