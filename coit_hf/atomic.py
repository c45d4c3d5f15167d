"""Paths the user names: files written whole or not at all (temp then rename), the permissions such a write should
end with, and output folders checked up front.

``tempfile.mkstemp`` creates files with mode 0600 and ``mkdtemp`` folders with 0700 whatever the umask, so a file
written through a temp name and renamed into place would be private; :func:`normal_permissions` gives it the mode a
plain ``open``/``mkdir`` would have (0666/0777 less the umask) before the rename.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from coit_hf.errors import InputError


def current_umask() -> int:
    """The process umask (read by setting it and restoring it: the standard library has no getter before 3.13)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_permissions(path: str | os.PathLike[str], *, recursive: bool = False) -> None:
    """Give ``path`` (a file or folder; with ``recursive``, everything under a folder too) the mode a plain
    ``open``/``mkdir`` would have given it: 0666 or 0777 less the umask, execute bits of files kept."""
    mask = current_umask()
    paths = [Path(path)]
    if recursive and paths[0].is_dir():
        paths += sorted(paths[0].rglob("*"))
    for item in paths:
        if item.is_symlink():
            continue
        mode = item.stat().st_mode
        if stat.S_ISDIR(mode):
            item.chmod(0o777 & ~mask)
        else:
            executable = mode & 0o111
            item.chmod((0o666 | (0o111 if executable else 0)) & ~mask)


def require_output_dir(path: str | os.PathLike[str], option: str = "--output-dir") -> Path:
    """``path`` as an output folder: an existing file there (or as a parent) is an error naming ``option``."""
    path = Path(path)
    for item in (path, *path.parents):
        if item.exists() and not item.is_dir():
            where = "is a file" if item == path else f"has a file as parent ({item})"
            raise InputError(f"{option} {where}; expected a folder (or a path where one can be created)", path=path)
    return path


def require_output_file(path: str | os.PathLike[str], option: str = "--output") -> Path:
    """``path`` as an output file: an existing folder there, or a file among its parents, is an error naming
    ``option``."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} is a folder; expected a file name", path=path)
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{option} has a file as parent ({parent}); expected a folder there", path=path)
    return path


def require_model_path(model: str, option: str = "--model") -> None:
    """A model given as a local path must be a folder; a name that does not look like a path is left to the Hub."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{option} is a file; expected a model folder (config.json, weights) or a Hub id",
                             path=model)
        return
    if model.startswith(("/", "./", "../", "~")) or model.count("/") > 1:
        raise InputError(f"{option}: model folder not found", path=model)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; when the block ends without error it gets normal permissions
    and is renamed onto ``path``, otherwise it is removed (``path`` keeps its old content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        normal_permissions(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; removes what a failed write left


def write_atomic(path: str | os.PathLike[str], write: Callable[[TextIO], object]) -> Path:
    """Write ``path`` whole or not at all: ``write(handle)`` fills a UTF-8 text handle on a temp file."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        write(handle)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all."""
    return write_atomic(path, lambda handle: handle.write(text))
