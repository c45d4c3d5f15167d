"""Where the evaluation data comes from: pinned Hub files, or local files, turned into a local Parquet folder.

Every task reads its rows with plain ``datasets.load_dataset(folder, "default")`` (what lighteval does) from a folder
written here, next to a ``.coit_source.json`` naming where the rows came from (repo, revision, commit, files with
sha256, rows; ``data_sources`` in ``coit_results.json``). Hub defaults (:mod:`coit_hf.evaluation.hub_sources`) are
explicit Parquet files read by ``hf://`` path, never a loading script:

- ``xquad``: ``google/xquad`` ``xquad.{lang}/validation-00000-of-00001.parquet``
- ``mlqa``: ``google/xtreme`` ``MLQA.{lang}.{lang}/test-00000-of-00001.parquet``
- ``flores101``: ``gsarti/flores_101`` branch ``refs/convert/parquet``, ``{flores101_code}/devtest/0000.parquet``
  (then FLORES+ with a token, then Flores-200, labelled as those benchmark versions)

``coit-hf eval prepare`` downloads them once into a folder (one Parquet file per language plus ``manifest.json``);
``coit-hf eval --data-dir`` then runs offline from it.

Local replacements (materialised once into ``$COIT_HF_CACHE/eval_data/<hash>/test-00000-of-00001.parquet``):

- QA: SQuAD-format JSON — a file, a path with ``{lang}``, or a folder holding ``*.{lang}.json`` /
  ``*context-{lang}-question-{lang}.json`` (XQuAD / MLQA file names);
- MI-Eval (instruction following): a JSON/JSONL file of Alpaca-style rows (``instruction``, optional ``input``,
  ``id``, ``lang``), a path with ``{lang}`` (``data/mieval_{lang}.jsonl``), or a folder holding ``{lang}.jsonl`` /
  ``*_{lang}.jsonl`` / ``*.{lang}.json``; rows with a ``lang`` field are filtered to the task's language;
- a folder written by ``coit-hf eval prepare`` (``{lang}.parquet`` per family sub-folder, ``manifest.json`` above);
- Flores: a folder of plain-text files, one sentence per line, named ``{flores101_code}.{split}``, ``{code}.{split}``
  or ``{code}.txt`` (also under ``{split}/``), or a ``.jsonl`` file whose lines map language codes to aligned
  sentences (UDHR-style, as in tests).

Override syntax (CLI ``--source`` and env ``COIT_HF_EVAL_SOURCES``, entries separated by whitespace):
``FAMILY=PATH_OR_ID[?config=...&split=...&revision=...]``; ``{lang}`` in any part is replaced per language. A Hub id
is read with ``load_dataset(id, config, split, revision)`` (a script-only repo fails with a clear error); an
``hf://datasets/<repo>@<rev>/<file>`` path is read with the generic parquet/json builder.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl

from coit_hf.errors import ConfigError, InputError
from coit_hf.files import iter_jsonl, read_json, write_json, write_parquet
from coit_hf.flores_files import find_flores_file
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


HUB_DEFAULTS = "hub-defaults"
"""``path`` of a default QA/Flores source: the pinned candidate files of :mod:`coit_hf.evaluation.hub_sources`."""
HUB_FAMILIES = ("xquad", "mlqa", "flores101")
PROVENANCE_FILE = ".coit_source.json"
"""Written beside each materialised Parquet file (a dot-name: the ``datasets`` folder loader skips hidden files)."""
MANIFEST_FILE = "manifest.json"

DEFAULT_SOURCES: dict[str, DataSource] = {
    "xquad": DataSource(HUB_DEFAULTS, split="validation"),
    "mlqa": DataSource(HUB_DEFAULTS, split="test"),
    "flores101": DataSource(HUB_DEFAULTS, split="devtest"),
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
    source = DataSource(path=path, config=options.get("config"), split=options.get("split", base.split),
                        revision=options.get("revision"))
    return family, source


def sources_from_env(environ: Mapping[str, str] | None = None) -> dict[str, DataSource]:
    """Overrides named in ``$COIT_HF_EVAL_SOURCES`` (whitespace-separated ``FAMILY=...`` entries)."""
    env = os.environ if environ is None else environ
    return dict(parse_source(item) for item in env.get(SOURCES_ENV, "").split())


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


def _cache_folder(key: str) -> Path:
    return cache_root() / "eval_data" / hashlib.sha256(key.encode()).hexdigest()[:16]


def _cached(key: str) -> str | None:
    """The cached folder for ``key`` when it is complete (Parquet file written), else None."""
    folder = _cache_folder(key)
    return str(folder) if (folder / f"{LOCAL_SPLIT}-00000-of-00001.parquet").exists() else None


def _write_parquet_folder(rows: list[dict], key: str, provenance: dict | None = None) -> str:
    """Write rows as a one-split Parquet folder named by ``key``'s hash (atomic rename), with its provenance file
    (``.coit_source.json``, written first); return the folder."""
    folder = _cache_folder(key)
    target = folder / f"{LOCAL_SPLIT}-00000-of-00001.parquet"
    if target.exists():
        return str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if provenance is not None:
        write_json(folder / PROVENANCE_FILE, provenance)
    write_parquet(target, rows)
    return str(folder)


def read_provenance(folder: str | os.PathLike[str]) -> dict | None:
    """The ``.coit_source.json`` of a materialised folder (None when absent, e.g. a Hub id given to lighteval)."""
    path = Path(folder) / PROVENANCE_FILE
    if not path.is_file():
        return None
    return read_json(path)


def _local_provenance(family: str, files: list[Path], rows: int, split: str) -> dict:
    """Provenance of user files: file names and sha256 (no absolute paths), or the manifest entry of a prepared
    folder (``<root>/manifest.json`` naming ``<family>/<file>``)."""
    from coit_hf.evaluation.hub_sources import sha256_of

    entries = []
    for file in files:
        manifest = file.parent.parent / MANIFEST_FILE
        name = f"{file.parent.name}/{file.name}"
        if manifest.is_file():
            entry = read_json(manifest).get("files", {}).get(name)
            if entry is not None:
                entries.append({**entry, "local": name})
                continue
        entries.append({"family": family, "benchmark": family, "repo": None, "revision": None, "commit": None,
                        "config": None, "split": split, "rows": rows,
                        "files": [{"path": file.name, "sha256": sha256_of(file)}], "local": file.name})
    return merge_provenance(entries, rows)


def merge_provenance(entries: list[dict], rows: int) -> dict:
    """One provenance for a task read from several per-language files (a Flores pair): configs joined with ','."""
    if len(entries) == 1:
        return {**entries[0], "rows": rows}
    first = entries[0]
    configs = [e["config"] for e in entries if e.get("config")]
    locals_ = [e["local"] for e in entries if e.get("local")]
    return {**first, "config": ",".join(configs) or None, "rows": rows,
            "files": [f for e in entries for f in e["files"]], "local": ",".join(locals_) or None}


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
    patterns = [f"{lang}.parquet", f"*.{lang}.json", f"*context-{lang}-question-{lang}.json", f"{lang}.json"]
    return _first_match(path, patterns, f"no SQuAD JSON for language {lang!r}")


def _first_match(folder: Path, patterns: list[str], missing: str) -> Path:
    """The first file (in name order) matching the first pattern that matches any in ``folder``; an
    :class:`InputError` starting with ``missing`` and listing the patterns when none does."""
    for pattern in patterns:
        hits = sorted(glob.glob(str(folder / pattern)))
        if hits:
            return Path(hits[0])
    raise InputError(f"{missing} (looked for {', '.join(patterns)})", path=folder)


def flores_column(lang: str) -> str:
    """Column holding ``lang``'s sentences in Flores-shaped data: ``sentence_{flores101_code or code}``."""
    language = get_language(lang)
    return f"sentence_{language.flores101_code or language.code}"


def read_parquet_rows(path: Path) -> list[dict]:
    """Rows of a local Parquet file (as written by ``coit-hf eval prepare``)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", path=path) from None


def _read_flores_texts(source: DataSource, langs: tuple[str, ...]) -> list[dict]:
    path = Path(source.path)
    columns: dict[str, list[str]] = {}
    if path.is_dir() and all((path / f"{lang}.parquet").is_file() for lang in langs):  # an `eval prepare` folder
        for lang in langs:
            rows = read_parquet_rows(path / f"{lang}.parquet")
            if rows and "sentence" not in rows[0]:
                raise InputError(f"no 'sentence' column (columns: {sorted(rows[0])})", path=path / f"{lang}.parquet")
            columns[lang] = [r["sentence"] for r in rows]
        lengths = {lang: len(v) for lang, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise InputError(f"sentence files are not aligned (row counts {lengths})", path=path)
        count = len(next(iter(columns.values())))
        return [{"id": str(i), **{flores_column(lang): columns[lang][i] for lang in langs}} for i in range(count)]
    if path.is_file():
        if path.suffix != ".jsonl":
            raise InputError("a Flores-style file source must be .jsonl (one object of aligned texts per line)", path=path)
        rows_raw = list(iter_jsonl(path))
        for lang in langs:
            for number, row in rows_raw:
                if not isinstance(row.get(lang), str):
                    raise InputError(f"missing text for language {lang!r}", path=path, line=number, field=lang)
            columns[lang] = [row[lang] for _, row in rows_raw]
    else:
        for lang in langs:
            text = find_flores_file(path, lang, source.split).read_text(encoding="utf-8")
            columns[lang] = text.rstrip("\n").split("\n")
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
        return list(iter_jsonl(path))
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
    return _first_match(path, patterns, f"no instruction file for language {lang!r}")


def _flores_files(source: DataSource, langs: tuple[str, ...]) -> list[Path]:
    path = Path(source.path)
    if path.is_file():
        return [path]
    if all((path / f"{lang}.parquet").is_file() for lang in langs):
        return [path / f"{lang}.parquet" for lang in langs]
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))


def _materialize_local(family: str, source: DataSource, filled: DataSource, langs: tuple[str, ...]) -> str:
    lang = langs[0]
    if family == "mieval":
        file = _find_instruction_file(filled, lang)
        return _write_parquet_folder(read_instruction_rows(file, lang), _file_key(file, f"mieval|{lang}"))
    if family in ("xquad", "mlqa"):
        file = _find_qa_file(filled, lang)
        rows = read_parquet_rows(file) if file.suffix == ".parquet" else read_squad_json(file)
        key = _file_key(file, "qa")
        return _cached(key) or _write_parquet_folder(rows, key, _local_provenance(family, [file], len(rows), filled.split))
    files = _flores_files(source, langs)
    key = "|".join(_file_key(f, "") for f in files) + f"|flores|{','.join(langs)}|{source.split}"
    if _cached(key):
        return _cached(key)
    rows = _read_flores_texts(source, langs)
    return _write_parquet_folder(rows, key, _local_provenance(family, files, len(rows), source.split))


def flores_pair_rows(per_lang: dict[str, list[dict]], where: str) -> list[dict]:
    """Per-language ``{id, sentence}`` rows -> aligned rows ``{id, sentence_<code>...}`` (same count required)."""
    lengths = {lang: len(rows) for lang, rows in per_lang.items()}
    if len(set(lengths.values())) != 1:
        raise InputError(f"Flores files are not aligned (row counts {lengths})", path=where)
    count = next(iter(lengths.values()))
    return [{"id": str(i), **{flores_column(lang): rows[i]["sentence"] for lang, rows in per_lang.items()}}
            for i in range(count)]


def _materialize_defaults(family: str, langs: tuple[str, ...], download: bool) -> str:
    from coit_hf.evaluation import hub_sources

    key = f"hub-defaults|{family}|{','.join(langs)}|" + "|".join(c.label for c in hub_sources.CANDIDATES[family])
    cached = _cached(key)
    if cached or not download:
        if cached is None:
            raise ConfigError(f"{family} data for {', '.join(langs)} is not downloaded yet: run `coit-hf eval prepare "
                              f"--tasks ... --output DIR` and pass --data-dir DIR (or let `coit-hf eval` download it)")
        return cached
    fetched = hub_sources.fetch_first(family, langs)
    if family == "flores101":
        rows = flores_pair_rows({lang: fetched[lang][0] for lang in langs}, family)
    else:
        rows = fetched[langs[0]][0]
    provenance = merge_provenance([fetched[lang][1] for lang in langs], len(rows))
    return _write_parquet_folder(rows, key, provenance)


def _materialize_hub_id(family: str, source: DataSource, langs: tuple[str, ...]) -> str:
    """A user-named Hub dataset (id or ``hf://`` file path) read through ``datasets`` into the local cache."""
    import datasets

    from coit_hf.evaluation.hub_sources import qa_rows

    filled = source.for_language(langs[0]) if family != "flores101" else source
    key = f"hub-id|{family}|{filled.path}|{filled.config}|{filled.split}|{filled.revision}|{','.join(langs)}"
    if _cached(key):
        return _cached(key)
    try:
        if filled.path.startswith("hf://"):
            builder = "json" if re.search(r"\.jsonl?(\.gz)?$", filled.path) else "parquet"
            dataset = datasets.load_dataset(builder, data_files={"test": filled.path}, split="test")
        else:
            dataset = datasets.load_dataset(filled.path, filled.config, split=filled.split, revision=filled.revision)
    except Exception as exc:  # noqa: BLE001 - any loading failure is reported as a bad source, naming it
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "scripts are no longer supported" in message:
            message = (f"{filled.path} holds a loading script ({message.rsplit(' ', 1)[-1]}), which datasets >= 4 "
                       "cannot run; name its Parquet files instead: --source "
                       f"'{family}=hf://datasets/<repo>@<revision>/<path>.parquet' (see README, evaluation data)")
        raise InputError(f"cannot load {family} source: {message}", path=filled.path) from exc
    rows = dataset.to_list()
    if family in ("xquad", "mlqa"):
        rows = qa_rows(rows, filled.path)
    provenance = {"family": family, "benchmark": family, "repo": filled.path, "revision": filled.revision,
                  "commit": None, "config": filled.config, "split": filled.split, "rows": len(rows), "files": [],
                  "local": None}
    return _write_parquet_folder(rows, key, provenance)


def materialize(family: str, source: DataSource, langs: tuple[str, ...], *, download: bool = True) -> DataSource:
    """Return a loadable local Parquet source for ``family`` in ``langs`` (``{lang}`` filled in for QA).

    Hub defaults are downloaded once (pinned files, see :mod:`coit_hf.evaluation.hub_sources`) unless ``download``
    is False, in which case only an earlier download is used (ConfigError otherwise). Local files are converted; a
    user-named Hub id is read through ``datasets``. MI-Eval Hub ids are returned unchanged (lighteval loads them).
    """
    lang = langs[0]
    filled = source.for_language(lang) if family != "flores101" else source
    if family == "mieval" and not source.path:
        raise ConfigError("coit_mieval needs an instruction set: --source 'mieval=PATH_OR_HUB_ID[?config=..&split=..]' "
                          f"(or ${SOURCES_ENV}); JSON/JSONL rows with instruction and optional input")
    if family in HUB_FAMILIES and source.path == HUB_DEFAULTS:
        folder = _materialize_defaults(family, langs, download)
    elif not source.is_local:
        if family == "mieval":
            return filled
        if not download:
            raise ConfigError(f"{family} source {source.path} is a Hub dataset: not read at import time")
        folder = _materialize_hub_id(family, source, langs)
    else:
        folder = _materialize_local(family, source, filled, langs)
    logger.debug("%s source %s -> %s", family, source.path, folder)
    return replace(filled, path=folder, config="default", split=LOCAL_SPLIT, revision=None)
