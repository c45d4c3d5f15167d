"""Where the evaluation data comes from: Hub Parquet defaults, or local files turned into a Parquet folder.

Every task reads its rows with plain ``datasets.load_dataset(path, name, revision=...)`` (what lighteval does), so a
source resolves to (path, config, split, revision). Hub defaults load with ``datasets`` >= 4 (no scripts):

- ``xquad``: ``google/xquad``, config ``xquad.{lang}``, split ``validation``
- ``mlqa``: ``facebook/mlqa``, config ``mlqa.{lang}.{lang}``, split ``test``
- ``flores101``: ``gsarti/flores_101`` config ``all`` at revision ``refs/convert/parquet`` (the Hub's Parquet
  conversion of the script dataset), split ``devtest``, columns ``sentence_{flores101_code}``

Local replacements (materialised once into ``$COIT_HF_CACHE/eval_data/<hash>/test-00000-of-00001.parquet``):

- QA: SQuAD-format JSON — a file, a path with ``{lang}``, or a folder holding ``*.{lang}.json`` /
  ``*context-{lang}-question-{lang}.json`` (XQuAD / MLQA file names);
- MI-Eval (instruction following): a JSON/JSONL file of Alpaca-style rows (``instruction``, optional ``input``,
  ``id``, ``lang``), a path with ``{lang}`` (``data/mieval_{lang}.jsonl``), or a folder holding ``{lang}.jsonl`` /
  ``*_{lang}.jsonl`` / ``*.{lang}.json``; rows with a ``lang`` field are filtered to the task's language;
- Flores: a folder of plain-text files, one sentence per line, named ``{flores101_code}.{split}``, ``{code}.{split}``
  or ``{code}.txt`` (also under ``{split}/``), or a ``.jsonl`` file whose lines map language codes to aligned
  sentences (UDHR-style, as in tests).

Override syntax (CLI ``--source`` and env ``COIT_HF_EVAL_SOURCES``, entries separated by whitespace):
``FAMILY=PATH_OR_ID[?config=...&split=...&revision=...]``; ``{lang}`` in any part is replaced per language.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl

from coit_hf.errors import ConfigError, InputError
from coit_hf.jsonfile import read_json
from coit_hf.languages import get_language, language_codes

logger = logging.getLogger(__name__)

SOURCES_ENV = "COIT_HF_EVAL_SOURCES"
CACHE_ENV = "COIT_HF_CACHE"
FAMILIES = ("xquad", "mlqa", "flores101", "mieval")
LOCAL_SPLIT = "test"


@dataclass(frozen=True)
class DataSource:
    """A dataset location: Hub id or local path, with config, split and revision (``{lang}`` placeholders allowed)."""

    path: str
    config: str | None = None
    split: str = "test"
    revision: str | None = None

    def for_language(self, lang: str) -> DataSource:
        """This source with ``{lang}`` filled in."""
        fill = lambda v: v.replace("{lang}", lang) if isinstance(v, str) else v  # noqa: E731
        return DataSource(fill(self.path), fill(self.config), fill(self.split), fill(self.revision))

    @property
    def is_local(self) -> bool:
        """True when ``path`` names an existing file or folder (else it is a Hub dataset id)."""
        if not self.path:
            return False
        return (os.path.exists(self.path.split("{lang}")[0]) or os.path.exists(self.path)
                or bool(glob.glob(glob.escape(self.path).replace("{lang}", "*"))))  # e.g. data/mieval_{lang}.jsonl


DEFAULT_SOURCES: dict[str, DataSource] = {
    "xquad": DataSource("google/xquad", config="xquad.{lang}", split="validation"),
    "mlqa": DataSource("facebook/mlqa", config="mlqa.{lang}.{lang}", split="test"),
    "flores101": DataSource("gsarti/flores_101", config="all", split="devtest", revision="refs/convert/parquet"),
    # MI-Eval-style instruction sets have no canonical Hub home: the user names one (see coit_hf.evaluation.mieval).
    "mieval": DataSource("", split="test"),
}


def parse_source(spec: str) -> tuple[str, DataSource]:
    """Parse ``FAMILY=PATH_OR_ID[?config=..&split=..&revision=..]`` into (family, source)."""
    family, sep, rest = spec.partition("=")
    family = family.strip()
    if not sep or family not in FAMILIES or not rest:
        raise ConfigError(f"bad source {spec!r}: expected FAMILY=PATH_OR_ID[?config=..&split=..&revision=..] "
                          f"with FAMILY one of {', '.join(FAMILIES)}")
    path, _, query = rest.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - {"config", "split", "revision"}
    if unknown:
        raise ConfigError(f"bad source {spec!r}: unknown option(s) {sorted(unknown)}; allowed: config, split, revision")
    base = DEFAULT_SOURCES[family]
    local = DataSource(path).is_local
    source = DataSource(
        path=path,
        config=options.get("config", None if local else base.config),
        split=options.get("split", base.split),
        revision=options.get("revision", None if local else base.revision),
    )
    return family, source


def sources_from_env() -> dict[str, DataSource]:
    """Overrides named in ``$COIT_HF_EVAL_SOURCES`` (whitespace-separated ``FAMILY=...`` entries)."""
    return dict(parse_source(item) for item in os.environ.get(SOURCES_ENV, "").split())


def resolve_sources(overrides: dict[str, DataSource] | None = None) -> dict[str, DataSource]:
    """Defaults, then env overrides, then explicit ``overrides``."""
    return {**DEFAULT_SOURCES, **sources_from_env(), **(overrides or {})}


def data_dir_sources(data_dir: str | os.PathLike[str]) -> dict[str, DataSource]:
    """Sources for a folder holding ``xquad/``, ``mlqa/`` and/or ``flores101/`` sub-folders (those present)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError("data dir not found or not a folder", path=root)
    return {f: DataSource(str(root / f), split=DEFAULT_SOURCES[f].split) for f in FAMILIES if (root / f).exists()}


# ------------------------------------------------------------------------------------------------- materialisation
def cache_root() -> Path:
    """Folder where local sources are converted to Parquet (``$COIT_HF_CACHE`` or ``~/.cache/coit_hf``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "coit_hf")


def _write_parquet_folder(rows: list[dict], key: str) -> str:
    """Write rows as a one-split Parquet folder named by ``key``'s hash (atomic rename); return the folder."""
    import datasets

    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = cache_root() / "eval_data" / digest
    target = folder / f"{LOCAL_SPLIT}-00000-of-00001.parquet"
    if target.exists():
        return str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(tmp))
    os.replace(tmp, target)
    return str(folder)


def _file_key(path: Path, extra: str) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{extra}"


def read_squad_json(path: str | os.PathLike[str]) -> list[dict]:
    """Flatten a SQuAD v1.1 JSON file into rows {id, context, question, answers: {text, answer_start}}."""
    path = Path(path)
    data = read_json(path, missing="SQuAD JSON file not found")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise InputError("expected a SQuAD JSON object with a 'data' list", path=path, field="data")
    rows = []
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise InputError(f"article {a} paragraph {p} lacks a context", path=path, field="context")
            for q, qa in enumerate(paragraph.get("qas", [])):
                answers = qa.get("answers") or []
                if not answers or "question" not in qa:
                    raise InputError(f"article {a} paragraph {p} question {q} lacks question/answers",
                                     path=path, field="answers")
                rows.append({
                    "id": str(qa.get("id", f"{a}-{p}-{q}")),
                    "context": context,
                    "question": qa["question"],
                    "answers": {"text": [x["text"] for x in answers],
                                "answer_start": [int(x.get("answer_start", -1)) for x in answers]},
                })
    if not rows:
        raise InputError("no questions found", path=path)
    return rows


def _find_qa_file(source: DataSource, lang: str) -> Path:
    path = Path(source.path)
    if path.is_file():
        # A file named for a language (xquad.zh.json, xquad_th.json) serves that language only.
        named = set(re.split(r"[._-]", path.stem)) & set(language_codes())
        if named and lang not in named:
            raise InputError(f"file is for {sorted(named)}, not {lang!r}; use a folder or a path with {{lang}}",
                             path=path)
        return path
    patterns = [f"*.{lang}.json", f"*context-{lang}-question-{lang}.json", f"{lang}.json"]
    for pattern in patterns:
        hits = sorted(glob.glob(str(path / pattern)))
        if hits:
            return Path(hits[0])
    raise InputError(f"no SQuAD JSON for language {lang!r} (looked for {', '.join(patterns)})", path=path)


def flores_column(lang: str) -> str:
    """Column holding ``lang``'s sentences in Flores-shaped data: ``sentence_{flores101_code or code}``."""
    language = get_language(lang)
    return f"sentence_{language.flores101_code or language.code}"


def _read_flores_texts(source: DataSource, langs: tuple[str, ...]) -> list[dict]:
    path = Path(source.path)
    columns: dict[str, list[str]] = {}
    if path.is_file():
        if path.suffix != ".jsonl":
            raise InputError("a Flores-style file source must be .jsonl (one object of aligned texts per line)", path=path)
        rows_raw = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows_raw.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", path=path, line=number) from None
        for lang in langs:
            for number, row in rows_raw:
                if not isinstance(row.get(lang), str):
                    raise InputError(f"missing text for language {lang!r}", path=path, line=number, field=lang)
            columns[lang] = [row[lang] for _, row in rows_raw]
    else:
        for lang in langs:
            language = get_language(lang)
            names = [f"{language.flores101_code}.{source.split}", f"{lang}.{source.split}", f"{lang}.txt",
                     f"{language.flores101_code}.txt"]
            candidates = [path / n for n in names] + [path / source.split / n for n in names]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise InputError(f"no sentence file for language {lang!r} (looked for {', '.join(names)})", path=path)
            columns[lang] = found.read_text(encoding="utf-8").rstrip("\n").split("\n")
        lengths = {lang: len(v) for lang, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise InputError(f"sentence files are not aligned (line counts {lengths})", path=path)
    count = len(next(iter(columns.values())))
    return [{"id": str(i), **{flores_column(lang): columns[lang][i] for lang in langs}} for i in range(count)]


# --------------------------------------------------------------------------------------- instruction sets (mieval)
INSTRUCTION_KEYS = ("instruction", "prompt", "question")
"""Field names accepted for the instruction of an MI-Eval row, first present wins."""


def _read_json_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) pairs of a JSONL file, or of a JSON list / ``{"data": [...]}`` file (line 1 for all)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("instruction file not found", path=path) from None
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc.msg}", path=path, line=number) from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError("expected a JSON list of instruction objects (or {\"data\": [...]})", path=path)
    return [(1, row) for row in data]


def read_instruction_rows(path: str | os.PathLike[str], lang: str) -> list[dict]:
    """Alpaca-style rows of one language from a JSON/JSONL file -> [{id, instruction, input, lang}].

    Rows carrying ``lang`` (or ``language``) are kept only when it equals ``lang``; ``id`` defaults to
    ``{lang}-{row number}``. Raises :class:`InputError` naming the file, line and field of a bad row.
    """
    path = Path(path)
    out = []
    for index, (number, row) in enumerate(_read_json_rows(path)):
        line = number if path.suffix == ".jsonl" else None
        if not isinstance(row, dict):
            raise InputError("expected a JSON object per instruction", path=path, line=line)
        row_lang = row.get("lang", row.get("language"))
        if row_lang is not None and row_lang != lang:
            continue
        key = next((k for k in INSTRUCTION_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if key is None:
            raise InputError(f"row {index} has no instruction text (one of {', '.join(INSTRUCTION_KEYS)})",
                             path=path, line=line, field="instruction")
        extra = row.get("input") or ""
        if not isinstance(extra, str):
            raise InputError(f"row {index}: 'input' must be a string", path=path, line=line, field="input")
        out.append({"id": str(row.get("id", f"{lang}-{index}")), "instruction": row[key].strip(),
                    "input": extra.strip(), "lang": lang})
    if not out:
        raise InputError(f"no instructions for language {lang!r}", path=path)
    return out


def _find_instruction_file(source: DataSource, lang: str) -> Path:
    path = Path(source.path)
    if path.is_file():
        return path
    if path.suffix in (".json", ".jsonl"):
        raise InputError(f"instruction file for language {lang!r} not found", path=path)
    patterns = [f"{lang}.jsonl", f"{lang}.json", f"*[._-]{lang}.jsonl", f"*[._-]{lang}.json"]
    for pattern in patterns:
        hits = sorted(glob.glob(str(path / pattern)))
        if hits:
            return Path(hits[0])
    raise InputError(f"no instruction file for language {lang!r} (looked for {', '.join(patterns)})", path=path)


def materialize(family: str, source: DataSource, langs: tuple[str, ...]) -> DataSource:
    """Return a loadable source for ``family`` in ``langs``: Hub sources as they are (``{lang}`` filled in for QA),
    local ones converted to a cached Parquet folder."""
    lang = langs[0]
    filled = source.for_language(lang) if family != "flores101" else source
    if family == "mieval" and not source.path:
        raise ConfigError("coit_mieval needs an instruction set: --source 'mieval=PATH_OR_HUB_ID[?config=..&split=..]' "
                          f"(or ${SOURCES_ENV}); JSON/JSONL rows with instruction and optional input")
    if not source.is_local:
        return filled
    if family == "mieval":
        file = _find_instruction_file(filled, lang)
        folder = _write_parquet_folder(read_instruction_rows(file, lang), _file_key(file, f"mieval|{lang}"))
    elif family in ("xquad", "mlqa"):
        file = _find_qa_file(filled, lang)
        folder = _write_parquet_folder(read_squad_json(file), _file_key(file, "qa"))
    else:
        path = Path(source.path)
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        key = "|".join(_file_key(f, "") for f in files) + f"|flores|{','.join(langs)}|{source.split}"
        folder = _write_parquet_folder(_read_flores_texts(source, langs), key)
    logger.debug("local %s source %s -> %s", family, source.path, folder)
    return replace(filled, path=folder, config="default", split=LOCAL_SPLIT, revision=None)
