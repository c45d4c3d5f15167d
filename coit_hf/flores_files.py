"""Where a local Flores-style folder keeps one language's sentences: ``<code>.<split>`` (the official Flores-101
and Flores-200 release layout, e.g. ``zho_simpl.devtest``) or ``<code>.txt``, directly in the folder or in its
``<split>/`` subfolder; ``<code>`` is the Flores-101 code, our code or the Flores-200 code of the language."""

from __future__ import annotations

import os
from pathlib import Path

from coit_hf.errors import ConfigError, InputError
from coit_hf.languages import get_language


def flores_codes(lang: str) -> list[str]:
    """Codes a Flores-style file of ``lang`` may be named by: Flores-101, ours, Flores-200 (only ours when the
    registry does not know the language)."""
    try:
        info = get_language(lang)
    except ConfigError:
        return [lang]
    codes = [info.flores101_code, lang, info.flores200_code]
    return list(dict.fromkeys(c for c in codes if c))


def flores_file_candidates(directory: str | os.PathLike[str], lang: str, split: str) -> list[Path]:
    """Every path, in the order tried, where ``lang``'s ``split`` sentences may lie under ``directory``."""
    directory = Path(directory)
    codes = flores_codes(lang)
    names = [f"{c}.{split}" for c in codes] + [f"{c}.txt" for c in codes]
    return [folder / name for folder in (directory, directory / split) for name in names]


def find_flores_file(directory: str | os.PathLike[str], lang: str, split: str) -> Path:
    """The first existing candidate of :func:`flores_file_candidates`; an :class:`InputError` naming the folder and
    the file names tried when there is none."""
    candidates = flores_file_candidates(directory, lang, split)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = ", ".join(dict.fromkeys(c.name for c in candidates))
        raise InputError(f"no Flores file for language {lang!r} (looked for {tried}, also under {split}/)",
                         path=directory)
    return found
