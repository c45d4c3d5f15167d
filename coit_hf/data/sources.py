"""Readers that turn public source formats into normalised records, streaming (one record at a time).

Translation sources yield :class:`~coit_hf.data.records.ParallelPair`; instruction sources yield
:class:`~coit_hf.data.records.InstructionRecord`. Supported formats: line-aligned parallel files, TSV, JSONL
and JSON arrays with configurable field names (incl. the OPUS ``translation: {en: .., zh: ..}`` layout and the
Alpaca schema), Hugging Face datasets (id/config/split/revision, streaming), gettext ``.po``/``.mo`` catalogs
(incl. every system catalog of a language) and TMX. Every error names the file and line.
"""

from __future__ import annotations

import ast
import codecs
import csv
import functools
import json
import logging
import os
import struct
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from coit_hf.data.records import InstructionRecord, ParallelPair, normalize_text
from coit_hf.data.validate import check_mapping
from coit_hf.errors import ConfigError, InputError
from coit_hf.files import iter_jsonl, iter_text_lines, line_containing, line_of, require_file
from coit_hf.languages import get_language

logger = logging.getLogger(__name__)

SOURCE_TYPES = ("parallel", "tsv", "jsonl", "json", "alpaca", "hf", "po", "mo", "tmx", "gettext")
"""Source formats understood by :func:`iter_source` (``alpaca`` = JSON or JSONL by extension, kind instruction)."""


@dataclass
class SourceSpec:
    """Where one source's records come from and how to read them.

    Attributes:
        type: one of :data:`SOURCE_TYPES`.
        kind: "translation" (sentence pairs) or "instruction" (Alpaca rows); ``alpaca`` implies "instruction".
        path: file path (or Hugging Face dataset id for ``hf``).
        paths: the two files of a line-aligned ``parallel`` source: [source-language file, target-language file].
        src_lang / tgt_lang: language codes of a translation source (registry codes).
        lang: language of an instruction source's outputs.
        src_field / tgt_field: field names (dotted for nesting, e.g. ``translation.en``); default: the language codes,
            looked up inside a ``translation`` mapping when the row has one (OPUS layout). TSV: column numbers.
        instruction_field / input_field / output_field: Alpaca field names.
        name / split / revision / data_files / streaming: Hugging Face ``load_dataset`` arguments for ``hf``.
        locales: locale folder names for ``gettext`` (default: every folder of the target language).
        locale_dir: root of the system catalogs for ``gettext``.
        display_name: provenance name written to the ``source`` column (default: file name or dataset id).
        license: licence of the source, listed in the dataset card.
        subset: value of the ``subset`` column for an instruction source (default ``alpaca_<lang>``); translation
            rows always get ``translation_<src>-<tgt>`` in the direction rendered.
        max_rows: stop after this many records (None = all).
    """

    type: str
    kind: str | None = None
    path: str | None = None
    paths: list[str] | None = None
    src_lang: str | None = None
    tgt_lang: str | None = None
    lang: str | None = None
    src_field: str | None = None
    tgt_field: str | None = None
    instruction_field: str = "instruction"
    input_field: str = "input"
    output_field: str = "output"
    name: str | None = None
    split: str = "train"
    revision: str | None = None
    data_files: Any = None
    streaming: bool = True
    locales: list[str] | None = None
    locale_dir: str | None = None
    display_name: str | None = None
    license: str = "unknown"
    subset: str | None = None
    max_rows: int | None = None
    origin: str | None = field(default=None, repr=False)  # the config file this spec came from, for errors

    def __post_init__(self) -> None:
        check_mapping(SourceSpec, {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"},
                      path=self.origin)
        if self.max_rows is not None and self.max_rows < 0:
            raise self._error(f"max_rows must be >= 0, got {self.max_rows}", "max_rows")
        if self.type not in SOURCE_TYPES:
            raise self._error(f"unknown source type {self.type!r}; use one of {', '.join(SOURCE_TYPES)}", "type")
        if self.kind is None:
            self.kind = "instruction" if self.type == "alpaca" else "translation"
        if self.kind not in ("translation", "instruction"):
            raise self._error("kind must be 'translation' or 'instruction'", "kind")
        if self.kind == "translation":
            self.src_lang = self.src_lang or "en"
            if not self.tgt_lang:
                raise self._error("a translation source needs tgt_lang", "tgt_lang")
            for key in ("src_lang", "tgt_lang"):
                self._check_language(getattr(self, key), key)
            if self.src_lang == self.tgt_lang:
                raise self._error(f"src_lang and tgt_lang are both {self.src_lang!r}: a translation source needs two "
                                  "different languages", "tgt_lang")
        else:
            if not self.lang:
                raise self._error("an instruction source needs lang (the language of its outputs)", "lang")
            self._check_language(self.lang, "lang")
        if self.type == "parallel":
            if not self.paths or len(self.paths) != 2:
                raise self._error("a parallel source needs paths: [source_file, target_file]", "paths")
        elif self.type != "gettext" and not self.path:
            raise self._error(f"a {self.type} source needs path", "path")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str | None = None) -> SourceSpec:
        """Build a spec from a mapping (one entry of a build config), rejecting unknown keys."""
        allowed = {f.name for f in fields(cls)} - {"origin"}
        unknown = set(data) - allowed
        if unknown:
            raise InputError(f"unknown source key(s) {sorted(unknown)}; allowed: {sorted(allowed)}",
                             path=origin, line=line_of(origin, sorted(unknown)[0]), field=sorted(unknown)[0])
        return cls(**data, origin=origin)

    @functools.cached_property
    def provenance(self) -> str:
        """Name written to the ``source`` column (cached: it is asked for every row)."""
        if self.display_name:
            return self.display_name
        if self.type == "parallel":
            return "+".join(Path(p).name for p in self.paths or [])
        if self.type == "hf":
            return self.path + (f"/{self.name}" if self.name else "")
        if self.type == "gettext":
            return f"gettext:{self.tgt_lang}"
        return Path(self.path or "").name

    def _check_language(self, code: str, key: str) -> None:
        try:
            get_language(code)
        except ConfigError as exc:
            raise InputError(str(exc), path=self.origin, line=line_containing(self.origin, code), field=key) from None

    def _error(self, message: str, key: str) -> InputError:
        return InputError(message, path=self.origin, field=key)


# ---------------------------------------------------------------------------------------------------------- lines
LINE_RANGE_TYPES = ("parallel", "tsv", "jsonl")
"""Source types read line by line: a build can split them into line ranges read by different tasks."""


def iter_json_array(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) from a file holding one JSON array of objects, without loading it whole."""
    path = require_file(path)
    decoder = json.JSONDecoder()
    line = 1
    buffer = ""
    started = False
    with path.open("rb") as handle:
        reader = codecs.getincrementaldecoder("utf-8")()
        eof = False

        def more() -> bool:
            nonlocal buffer, eof
            raw = handle.read(chunk_size)
            if not raw:
                eof = True
                try:
                    buffer += reader.decode(b"", final=True)
                except UnicodeDecodeError as exc:
                    raise InputError(f"not valid UTF-8 ({exc.reason})", path=path, line=line) from None
                return False
            try:
                buffer += reader.decode(raw)
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8 ({exc.reason})", path=path,
                                 line=line + buffer.count("\n")) from None
            return True

        more()
        while True:
            stripped = buffer.lstrip(" \t\r\n,\ufeff")
            line += buffer[: len(buffer) - len(stripped)].count("\n")
            buffer = stripped
            if not buffer:
                if eof or not more():
                    if not started:
                        raise InputError("expected a JSON array of objects", path=path, line=line)
                    raise InputError("JSON array is not closed", path=path, line=line)
                continue
            if not started:
                if buffer[0] != "[":
                    raise InputError("expected a JSON array of objects (use type jsonl for JSON lines)",
                                     path=path, line=line)
                started = True
                buffer = buffer[1:]
                continue
            if buffer[0] == "]":
                return
            try:
                obj, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError as exc:
                if not eof and more():
                    continue
                raise InputError(f"broken JSON: {exc.msg}", path=path, line=line + exc.lineno - 1) from None
            if not isinstance(obj, dict):
                raise InputError("array items must be JSON objects", path=path, line=line)
            yield line, obj
            line += buffer[:end].count("\n")
            buffer = buffer[end:]


def get_field(row: dict[str, Any], name: str) -> Any:
    """Look up ``name`` in ``row``; dots descend into nested mappings (``translation.en``)."""
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(name)
        value = value[part]
    return value


def _pair_fields(spec: SourceSpec, row: dict[str, Any]) -> tuple[str, str]:
    """Field names of the two sides for ``row``: explicit, or the language codes (inside ``translation`` if present)."""
    if spec.src_field and spec.tgt_field:
        return spec.src_field, spec.tgt_field
    prefix = "translation." if isinstance(row.get("translation"), dict) else ""
    return spec.src_field or prefix + str(spec.src_lang), spec.tgt_field or prefix + str(spec.tgt_lang)


def _row_to_record(spec: SourceSpec, row: dict[str, Any], where: str, line: int | None):
    """Turn one mapping row into a normalised record of the spec's kind."""
    try:
        if spec.kind == "translation":
            src_field, tgt_field = _pair_fields(spec, row)
            return ParallelPair(
                normalize_text(_text(get_field(row, src_field))), normalize_text(_text(get_field(row, tgt_field))),
                str(spec.src_lang), str(spec.tgt_lang), spec.provenance, line,
            )
        output = get_field(row, spec.output_field)
        instruction = get_field(row, spec.instruction_field)
        try:
            input_text = get_field(row, spec.input_field)
        except KeyError:
            input_text = ""
        row_id = row.get("id")
        return InstructionRecord(
            normalize_text(_text(instruction)), normalize_text(_text(input_text)), normalize_text(_text(output)),
            str(spec.lang), spec.provenance, line, None if row_id is None else str(row_id),
        )
    except KeyError as exc:
        raise InputError(f"row lacks field {exc.args[0]!r} (present: {sorted(row)})", path=where, line=line,
                         field=exc.args[0]) from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"expected text, got {type(value).__name__}")


# ---------------------------------------------------------------------------------------------------- formats
def read_parallel_files(spec: SourceSpec, start: int = 0, stop: int | None = None) -> Iterator[ParallelPair]:
    """Line-aligned files (``train.en`` + ``train.zh``): line i of one is the translation of line i of the other."""
    src_path, tgt_path = spec.paths or []
    src_lines, tgt_lines = iter_text_lines(src_path, start, stop), iter_text_lines(tgt_path, start, stop)
    sentinel = (None, None)
    while True:
        src_item = next(src_lines, sentinel)
        tgt_item = next(tgt_lines, sentinel)
        if src_item is sentinel and tgt_item is sentinel:
            return
        if src_item is sentinel or tgt_item is sentinel:
            short, long_item = (src_path, tgt_item) if src_item is sentinel else (tgt_path, src_item)
            raise InputError(
                f"parallel files have different line counts: {short} ends before line {long_item[0]}",
                path=src_path if src_item is not sentinel else tgt_path, line=long_item[0],
            )
        yield ParallelPair(normalize_text(src_item[1]), normalize_text(tgt_item[1]), str(spec.src_lang),
                           str(spec.tgt_lang), spec.provenance, src_item[0])


def read_tsv(spec: SourceSpec, start: int = 0, stop: int | None = None) -> Iterator[ParallelPair]:
    """Tab-separated pairs; ``src_field``/``tgt_field`` are 0-based column numbers (default 0 and 1)."""
    src_col = int(spec.src_field or 0)
    tgt_col = int(spec.tgt_field or 1)
    for number, text in iter_text_lines(spec.path or "", start, stop):
        if not text.strip():
            continue
        columns = next(csv.reader([text], delimiter="\t", quoting=csv.QUOTE_NONE))
        if len(columns) <= max(src_col, tgt_col):
            raise InputError(f"expected at least {max(src_col, tgt_col) + 1} tab-separated columns, got {len(columns)}",
                             path=spec.path, line=number)
        yield ParallelPair(normalize_text(columns[src_col]), normalize_text(columns[tgt_col]), str(spec.src_lang),
                           str(spec.tgt_lang), spec.provenance, number)


def read_mapping_file(spec: SourceSpec, start: int = 0,
                      stop: int | None = None) -> Iterator[ParallelPair | InstructionRecord]:
    """JSONL or JSON-array rows (``jsonl``, ``json``, ``alpaca``) mapped with the spec's field names."""
    path = spec.path or ""
    rows = iter_json_array(path) if is_json_array(spec) else iter_jsonl(path, start, stop)
    for number, row in rows:
        try:
            yield _row_to_record(spec, row, path, number)
        except TypeError as exc:
            raise InputError(str(exc), path=path, line=number) from None


def is_json_array(spec: SourceSpec) -> bool:
    """Whether a ``json``/``alpaca`` source holds one JSON array (rather than JSON lines)."""
    path = spec.path or ""
    return spec.type == "json" or (spec.type == "alpaca" and not path.endswith((".jsonl", ".jsonl.gz")))


def read_hf_dataset(spec: SourceSpec) -> Iterator[ParallelPair | InstructionRecord]:
    """Rows of a Hugging Face dataset (id, config ``name``, ``split``, ``revision``; streaming by default)."""
    import datasets

    try:
        dataset = datasets.load_dataset(spec.path, spec.name, split=spec.split, revision=spec.revision,
                                        data_files=spec.data_files, streaming=spec.streaming)
    except Exception as exc:  # noqa: BLE001 - report any loading failure as an input problem naming the dataset
        raise InputError(f"cannot load dataset: {type(exc).__name__}: {exc}", path=spec.provenance) from exc
    for number, row in enumerate(dataset, start=1):
        try:
            yield _row_to_record(spec, row, spec.provenance, number)
        except TypeError as exc:
            raise InputError(str(exc), path=spec.provenance, line=number) from None


# ---------------------------------------------------------------------------------------------------- gettext
def _po_unquote(text: str, path: Path, line: int) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(f"bad PO string {text!r}", path=path, line=line) from None
    if not isinstance(value, str):
        raise InputError(f"bad PO string {text!r}", path=path, line=line)
    return value


def iter_po_entries(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, str]]:
    """Yield (line, msgid, msgstr) of a ``.po`` file; skips the header, fuzzy and untranslated entries.

    For plural entries the singular forms (``msgid`` / ``msgstr[0]``) are used.
    """
    path = Path(path)
    entry: dict[str, str] = {}
    entry_line = 0
    fuzzy = False
    current: str | None = None

    def finish() -> Iterator[tuple[int, str, str]]:
        msgid = entry.get("msgid", "")
        msgstr = entry.get("msgstr", entry.get("msgstr[0]", ""))
        if msgid and msgstr and not fuzzy:
            yield entry_line, msgid, msgstr

    for number, text in iter_text_lines(path):
        stripped = text.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.startswith("#,") and "fuzzy" in stripped:
                if entry.get("msgstr") is not None or entry.get("msgstr[0]") is not None:
                    yield from finish()
                    entry, current = {}, None
                fuzzy = True
            continue
        if stripped.startswith('"'):
            if current is None:
                raise InputError("continuation string outside an entry", path=path, line=number)
            entry[current] += _po_unquote(stripped, path, number)
            continue
        keyword, _, rest = stripped.partition(" ")
        if keyword not in ("msgctxt", "msgid", "msgid_plural", "msgstr") and not keyword.startswith("msgstr["):
            raise InputError(f"unknown PO keyword {keyword!r}", path=path, line=number)
        if keyword in ("msgctxt", "msgid") and ("msgstr" in entry or "msgstr[0]" in entry):
            yield from finish()
            entry, fuzzy = {}, False
        if keyword in ("msgctxt", "msgid") and "msgid" not in entry:
            entry_line = number
        current = keyword
        entry[keyword] = _po_unquote(rest.strip(), path, number)
    yield from finish()


def iter_mo_entries(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, str]]:
    """Yield (index, msgid, msgstr) of a compiled ``.mo`` catalog (GNU format, either byte order).

    Context prefixes (``ctxt\\x04``) are dropped; plural entries give their singular forms; the header is skipped.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 28:
        raise InputError("file is empty or too short to be a .mo catalog", path=path)
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if order is None:
        raise InputError("not a GNU .mo file (bad magic number)", path=path)
    _, count, orig_offset, trans_offset = struct.unpack(order + "4I", data[4:20])
    charset = "utf-8"
    for index in range(count):
        olen, ooff = struct.unpack(order + "2I", data[orig_offset + 8 * index: orig_offset + 8 * index + 8])
        tlen, toff = struct.unpack(order + "2I", data[trans_offset + 8 * index: trans_offset + 8 * index + 8])
        raw_id, raw_str = data[ooff: ooff + olen], data[toff: toff + tlen]
        if not raw_id:
            header = raw_str.decode("utf-8", errors="replace")
            for header_line in header.splitlines():
                if header_line.lower().startswith("content-type:") and "charset=" in header_line:
                    charset = header_line.split("charset=", 1)[1].strip() or "utf-8"
            continue
        try:
            msgid = raw_id.split(b"\x00")[0].decode(charset).split("\x04")[-1]
            msgstr = raw_str.split(b"\x00")[0].decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise InputError(f"entry {index + 1} is not valid {charset}", path=path, line=index + 1) from None
        if msgid and msgstr:
            yield index + 1, msgid, msgstr


def _gettext_pairs(spec: SourceSpec, entries: Iterable[tuple[int, str, str]], provenance: str) -> Iterator[ParallelPair]:
    for number, msgid, msgstr in entries:
        yield ParallelPair(normalize_text(msgid), normalize_text(msgstr), str(spec.src_lang), str(spec.tgt_lang),
                           provenance, number)


def system_locale_dir() -> Path:
    """Root of the system's gettext catalogs (``<prefix>/share/locale``)."""
    for candidate in (Path(sys.base_prefix) / "share" / "locale", Path("/usr/share/locale")):
        if candidate.is_dir():
            return candidate
    return Path("/usr/share/locale")


def system_catalogs(lang: str, *, locale_dir: str | os.PathLike[str] | None = None,
                    locales: list[str] | None = None) -> list[Path]:
    """Every ``.mo`` file of language ``lang`` under the system locale folder (``zh``, ``zh_CN``, ``zh_TW``...)."""
    root = Path(locale_dir) if locale_dir else system_locale_dir()
    if not root.is_dir():
        return []
    names = locales or sorted(
        entry.name for entry in root.iterdir()
        if entry.name == lang or entry.name.startswith((f"{lang}_", f"{lang}@", f"{lang}."))
    )
    catalogs: list[Path] = []
    for name in names:
        catalogs.extend(sorted((root / name / "LC_MESSAGES").glob("*.mo")))
    return catalogs


def collect_system_pairs(lang: str, *, locale_dir: str | os.PathLike[str] | None = None,
                         locales: list[str] | None = None) -> Iterator[ParallelPair]:
    """English→``lang`` UI-message pairs from all system gettext catalogs of ``lang`` (OPUS GNOME/KDE style)."""
    spec = SourceSpec(type="gettext", src_lang="en", tgt_lang=lang, locale_dir=None if locale_dir is None else
                      str(locale_dir), locales=locales)
    yield from read_gettext_system(spec)


def read_gettext_system(spec: SourceSpec) -> Iterator[ParallelPair]:
    """All system catalogs of the spec's target language as one source (provenance ``gettext:<locale>/<file>``)."""
    catalogs = system_catalogs(str(spec.tgt_lang), locale_dir=spec.locale_dir, locales=spec.locales)
    if not catalogs:
        raise InputError(f"no gettext catalogs for language {spec.tgt_lang!r}", path=spec.locale_dir or
                         str(system_locale_dir()))
    for catalog in catalogs:
        provenance = spec.display_name or f"gettext:{catalog.parent.parent.name}/{catalog.name}"
        try:
            yield from _gettext_pairs(spec, iter_mo_entries(catalog), provenance)
        except InputError as exc:
            logger.warning("skipping catalog: %s", exc)


# -------------------------------------------------------------------------------------------------------- TMX
def _lang_matches(tag: str | None, code: str) -> bool:
    if not tag:
        return False
    tag = tag.replace("_", "-").lower()
    return tag == code.lower() or tag.startswith(code.lower() + "-")


def read_tmx(spec: SourceSpec) -> Iterator[ParallelPair]:
    """Translation units of a TMX file (``<tu><tuv xml:lang=..><seg>``), parsed incrementally."""
    path = require_file(spec.path or "")
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    number = yielded = 0
    tags_seen: set[str] = set()
    try:
        context = ET.iterparse(path, events=("end",))
        for _, element in context:
            if element.tag != "tu":
                continue
            number += 1
            texts: dict[str, str] = {}
            for tuv in element.iter("tuv"):
                tag = tuv.get(xml_lang) or tuv.get("lang")
                if tag and len(tags_seen) < 20:
                    tags_seen.add(tag)
                seg = tuv.find("seg")
                if seg is None:
                    continue
                for code in (str(spec.src_lang), str(spec.tgt_lang)):
                    if _lang_matches(tag, code) and code not in texts:
                        texts[code] = "".join(seg.itertext())
            element.clear()
            if str(spec.src_lang) in texts and str(spec.tgt_lang) in texts:
                yielded += 1
                yield ParallelPair(normalize_text(texts[str(spec.src_lang)]), normalize_text(texts[str(spec.tgt_lang)]),
                                   str(spec.src_lang), str(spec.tgt_lang), spec.provenance, number)
    except ET.ParseError as exc:
        raise InputError(f"broken TMX/XML: {exc}", path=path, line=exc.position[0]) from None
    if number and not yielded:  # say why nothing matched instead of "every row was filtered out" later
        found = f"the xml:lang values found are {sorted(tags_seen)}" if tags_seen else "no <tuv> has an xml:lang"
        raise InputError(f"none of its {number} translation units has both languages {spec.src_lang!r} and "
                         f"{spec.tgt_lang!r}: {found}", path=path, field="xml:lang")


def iter_source(spec: SourceSpec, start: int = 0,
                stop: int | None = None) -> Iterator[ParallelPair | InstructionRecord]:
    """Stream the normalised records of one source (at most ``spec.max_rows``).

    ``start``/``stop`` (0-based line range) apply to the line-based types of :data:`LINE_RANGE_TYPES` only.
    """
    if (start or stop is not None) and not (spec.type in LINE_RANGE_TYPES or
                                            (spec.type == "alpaca" and not is_json_array(spec))):
        raise ValueError(f"a {spec.type} source cannot be read by line range")
    if spec.type == "parallel":
        records: Iterator = read_parallel_files(spec, start, stop)
    elif spec.type == "tsv":
        records = read_tsv(spec, start, stop)
    elif spec.type in ("jsonl", "json", "alpaca"):
        records = read_mapping_file(spec, start, stop)
    elif spec.type == "hf":
        records = read_hf_dataset(spec)
    elif spec.type == "po":
        records = _gettext_pairs(spec, iter_po_entries(spec.path or ""), spec.provenance)
    elif spec.type == "mo":
        path = require_file(spec.path or "")
        records = _gettext_pairs(spec, iter_mo_entries(path), spec.provenance)
    elif spec.type == "gettext":
        records = read_gettext_system(spec)
    else:  # tmx
        records = read_tmx(spec)
    for count, record in enumerate(records):
        if spec.max_rows is not None and count >= spec.max_rows:
            return
        yield record
