"""`coit-hf eval prepare`: download the evaluation data of some tasks once, check it, and write it with a manifest.

The output folder holds ``<family>/<lang>.parquet`` (SQuAD-shaped QA rows, or ``{id, sentence}`` Flores rows) and
``manifest.json`` (per file: family, benchmark, repo, revision, commit, config, split, rows, the Hub files read with
their sha256, and the sha256 of the local file). ``coit-hf eval --data-dir`` reads it with no network at all.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from coit_hf.errors import ConfigError
from coit_hf.evaluation import hub_sources
from coit_hf.evaluation.sources import (
    DEFAULT_SOURCES,
    HUB_DEFAULTS,
    HUB_FAMILIES,
    LOCAL_SPLIT,
    MANIFEST_FILE,
    DataSource,
    flores_column,
    materialize,
    read_parquet_rows,
    read_provenance,
)
from coit_hf.files import read_json, write_json, write_parquet

MANIFEST_VERSION = 1


def task_units(tasks: list[str]) -> dict[str, tuple[str, ...]]:
    """``{family: languages}`` needed by ``tasks`` (``coit_xquad:zh``, ``coit_flores101:en-zh``; ``|0`` allowed)."""
    units: dict[str, list[str]] = {}
    for item in tasks:
        name = item.strip().split("|")[0]
        if not name:
            continue
        family, _, langs = name.partition(":")
        family = family.removeprefix("coit_")
        if family not in HUB_FAMILIES or not langs:
            raise ConfigError(f"eval prepare: task {item!r} is not one of coit_xquad:LANG, coit_mlqa:LANG, "
                              "coit_flores101:SRC-TGT")
        parts = langs.split("-") if family == "flores101" else [langs]
        if family == "flores101" and len(parts) != 2:
            raise ConfigError(f"eval prepare: task {item!r}: expected coit_flores101:SRC-TGT")
        for lang in parts:
            if lang not in units.setdefault(family, []):
                units[family].append(lang)
    if not units:
        raise ConfigError("eval prepare: no tasks given (e.g. --tasks coit_xquad:zh,coit_flores101:en-zh)")
    return {family: tuple(langs) for family, langs in units.items()}


def _from_source(family: str, source: DataSource, langs: tuple[str, ...]) -> dict[str, tuple[list[dict], dict]]:
    """Rows per language from a user-named source (read through the same materialisation as `coit-hf eval`)."""
    out = {}
    for lang in langs if family != "flores101" else (langs,):
        group = lang if isinstance(lang, tuple) else (lang,)
        folder = materialize(family, source, group).path
        rows = read_parquet_rows(Path(folder) / f"{LOCAL_SPLIT}-00000-of-00001.parquet")
        provenance = read_provenance(folder) or {}
        for code in group:
            per_lang = [{"id": r["id"], "sentence": r[flores_column(code)]} for r in rows] \
                if family == "flores101" else rows
            out[code] = (per_lang, {**provenance, "rows": len(per_lang)})
    return out


def fetch_units(units: dict[str, tuple[str, ...]], sources: dict[str, DataSource] | None = None,
                row_overrides: dict[str, int] | None = None, progress: bool = True) -> dict[str, tuple[list[dict], dict]]:
    """Download every (family, language) of ``units``: ``{"<family>/<lang>.parquet": (rows, provenance)}``.

    Hub defaults go through the ordered candidates (row counts checked); Flores languages all come from one
    candidate, so a run never mixes benchmark versions. Nothing is written here.
    """
    from tqdm.auto import tqdm

    resolved = {**DEFAULT_SOURCES, **(sources or {})}
    out: dict[str, tuple[list[dict], dict]] = {}
    steps = [(family, (lang,)) for family, langs in units.items() if family != "flores101" for lang in langs]
    if "flores101" in units:
        steps.append(("flores101", units["flores101"]))
    for family, langs in tqdm(steps, desc="eval data", unit="set", disable=not progress):
        source = resolved[family]
        if source.path == HUB_DEFAULTS:
            fetched = hub_sources.fetch_first(family, langs, row_overrides)
        else:
            fetched = _from_source(family, source, langs)
        for lang, item in fetched.items():
            out[f"{family}/{lang}.parquet"] = item
    return out


def write_prepared(fetched: dict[str, tuple[list[dict], dict]], output: str | os.PathLike[str]) -> dict:
    """Write the Parquet files (temp file + rename each) and then ``manifest.json`` (merged with an existing one)."""

    root = Path(output)
    manifest_path = root / MANIFEST_FILE
    manifest = {"coit_hf_eval_data": MANIFEST_VERSION, "files": {}}
    if manifest_path.is_file():
        manifest = read_json(manifest_path)
    for name, (rows, provenance) in fetched.items():
        target = root / name
        write_parquet(target, rows)
        entry = {**provenance, "rows": len(rows), "local": name, "sha256": hub_sources.sha256_of(target)}
        manifest["files"][name] = entry
    manifest["updated"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    write_json(manifest_path, manifest)
    return manifest


def prepare(tasks: list[str], output: str | os.PathLike[str], sources: dict[str, DataSource] | None = None,
            row_overrides: dict[str, int] | None = None, progress: bool = True) -> dict:
    """Download, check and write the data of ``tasks`` into ``output``; return the manifest. All downloads finish
    before anything is written, so a failure leaves ``output`` as it was."""
    fetched = fetch_units(task_units(tasks), sources, row_overrides, progress)
    return write_prepared(fetched, output)
