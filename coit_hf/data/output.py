"""Where a build may write: the overwrite rule, the coit-hf marker file and the final swap into place.

Rule: ``--output`` is written only when it does not exist, is an empty folder, or (with ``--overwrite``) is a
folder that coit-hf built (it holds :data:`MARKER`). A file is never replaced by a folder, and a folder that is or
contains an input of the build is never replaced. The new corpus is complete in a hidden sibling folder before it
takes the place of the old one, which is removed only then.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from coit_hf.errors import ConfigError
from coit_hf.files import read_optional_json_object, write_json

logger = logging.getLogger(__name__)

MARKER = ".coit-hf-corpus"
"""File written into every corpus folder coit-hf builds; ``--overwrite`` replaces only folders holding it."""


CORPUS_ENTRIES = {MARKER, "README.md", "build_report.json", "translation", "general", "all"}


def foreign_entries(folder: Path) -> list[str]:
    """Entries of a corpus folder that its build did not write (they would be lost if it were replaced): anything
    but the card, report, marker and the Parquet files the report lists."""
    listed = read_optional_json_object(folder / "build_report.json").get("files", {})
    written = {path if "/" in path else f"{key.split('/')[0]}/{path}"
               for key, names in listed.items() for path in names}
    foreign = []
    for entry in folder.iterdir():
        if entry.name not in CORPUS_ENTRIES or (entry.name in ("translation", "general", "all") and not entry.is_dir()):
            foreign.append(entry.name)
        elif entry.is_dir():
            foreign.extend(f"{entry.name}/{p.name}" for p in entry.iterdir()
                           if not p.is_file() or f"{entry.name}/{p.name}" not in written)
    return sorted(foreign)


def is_coit_output(folder: Path) -> bool:
    """Whether ``folder`` was written by ``coit-hf data build`` (marker file; or, for corpora built before the
    marker existed, a card with ``configs:`` next to ``build_report.json``)."""
    if (folder / MARKER).is_file():
        return True
    readme = folder / "README.md"
    return (readme.is_file() and (folder / "build_report.json").is_file()
            and "configs:" in readme.read_text(encoding="utf-8", errors="replace"))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(output: Path, *, overwrite: bool, inputs: Iterable[Path]) -> None:
    """Refuse an ``--output`` the overwrite rule does not allow (see the module docstring), before any work."""
    resolved = output.resolve()
    for path in inputs:
        if _inside(path.resolve(), resolved):
            raise ConfigError(f"--output {output} is or contains the build's input {path}; coit-hf never replaces "
                              "its own inputs: choose another output folder")
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise ConfigError(f"--output {output} is a file, not a folder; coit-hf never replaces a file with a corpus "
                          "folder: choose another path")
    if not output.is_dir() or not any(output.iterdir()):
        return
    if not overwrite:
        raise ConfigError(f"output folder {output} exists; pass --overwrite to replace it")
    if not is_coit_output(output):
        raise ConfigError(f"output folder {output} is not a coit-hf corpus (no {MARKER} file); --overwrite replaces "
                          "only folders written by `coit-hf data build` (or empty ones): choose another folder")
    foreign = foreign_entries(output)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ConfigError(f"output folder {output} holds files a build did not write ({shown}); --overwrite would "
                          "delete them: move them away or choose another folder")


def write_marker(folder: Path, tag: str) -> None:
    """Mark ``folder`` as a coit-hf corpus (build tag and version)."""
    from coit_hf import __version__

    write_json(folder / MARKER, {"tool": "coit-hf", "version": __version__, "build": tag}, indent=None)


def swap_into_place(new: Path, output: Path) -> None:
    """Move the complete corpus ``new`` to ``output``; an old corpus there is kept aside until the move is done."""
    if output.is_dir():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        output.rename(old)
        try:
            new.rename(output)
        except OSError:
            old.rename(output)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(output)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def recover_interrupted_swap(output: Path) -> None:
    """Undo what a build killed during :func:`swap_into_place` left: an old corpus put aside is moved back when no
    new one took its place, and removed otherwise; ``.tmp-`` folders of older coit-hf versions are removed."""
    for sibling in sorted(output.parent.glob(f".{output.name}.*-*")):
        kind, _, rest = sibling.name[len(output.name) + 2:].partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _pid_alive(int(pid)) or not sibling.is_dir():
            continue
        if kind == "old" and not output.exists():
            logger.info("restoring %s, put aside by an interrupted build (process %s)", output, pid)
            sibling.rename(output)
        else:
            logger.info("removing %s, left by an interrupted build (process %s)", sibling, pid)
            shutil.rmtree(sibling, ignore_errors=True)
