"""Check values read from YAML files against a dataclass's field annotations, so a wrong type fails with a message naming
the file, line and field instead of a ``TypeError`` deep inside a build.

Only simple annotations are checked (``str``, ``int``, ``float``, ``bool``, ``list[...]``, ``dict``, dataclasses,
unions with ``None``); anything fancier (``Any``) is accepted as is.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

from coit_hf.errors import InputError
from coit_hf.files import line_of


def _matches(value: Any, hint: Any) -> bool:
    if hint is Any or hint is None:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and (not args or all(_matches(item, args[0]) for item in value))
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint | dict)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin is list:
        args = typing.get_args(hint)
        return f"a list of {_describe(args[0])}" if args else "a list"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return {str: "text", int: "an integer", float: "a number", bool: "true/false", dict: "a mapping"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def check_mapping(cls: type, data: Mapping[str, Any], *, path: str | os.PathLike[str] | None = None,
                  prefix: str = "", exclude: frozenset[str] = frozenset()) -> None:
    """Reject unknown keys and values of the wrong type in ``data`` meant for dataclass ``cls``.

    Raises :class:`InputError` naming ``path``, the line of the key (when found) and the field ``prefix + key``.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"must be a mapping, got {type(data).__name__}", path=path, field=prefix.rstrip(".") or None)
    hints = typing.get_type_hints(cls)
    allowed = {f.name for f in dataclasses.fields(cls)} - exclude
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r}; allowed: {sorted(allowed)}", path=path,
                         line=line_of(path, str(unknown[0])), field=prefix + str(unknown[0]))
    for key, value in data.items():
        hint = hints.get(key)
        if not _matches(value, hint):
            raise InputError(f"must be {_describe(hint)}, got {type(value).__name__} {value!r}", path=path,
                             line=line_of(path, key), field=prefix + key)


def check_instance(obj: Any, *, path: str | os.PathLike[str] | None = None, prefix: str = "") -> None:
    """Check every field of dataclass instance ``obj`` against its annotation (see :func:`check_mapping`)."""
    check_mapping(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, path=path,
                  prefix=prefix)
