"""Reading a JSON file the user named, with errors that name the file and line (one helper for every stage)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from coit_hf.errors import InputError


def read_json(path: str | os.PathLike[str], *, missing: str = "file not found") -> Any:
    """Parse the JSON file ``path``; raise :class:`InputError` (with ``missing`` as the not-found message)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(missing, path=path) from None
    except IsADirectoryError:
        raise InputError("expected a JSON file, got a folder", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except _DuplicateKey as exc:
        raise InputError(f"key {exc.args[0]!r} is given twice in one object; keep one", path=path,
                         field=exc.args[0]) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: a key given twice is an error (``json`` alone keeps the last value silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out
