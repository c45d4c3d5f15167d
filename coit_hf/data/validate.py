"""Read YAML files and check their values against a dataclass's field annotations, so a wrong type fails with a message naming
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
from pathlib import Path
from typing import Any

import yaml

from coit_hf.errors import InputError


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


def line_of(path: str | os.PathLike[str] | None, key: str) -> int | None:
    """1-based line of the first ``key:`` in a YAML file (for error messages), or None."""
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            stripped = text.lstrip(" -{,")
            if stripped.startswith(f"{key}:") or f" {key}:" in text or f"{{{key}:" in text:
                return number
    return None


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


class DuplicateKeyError(yaml.YAMLError):
    """A mapping gives the same key twice (YAML forbids it; PyYAML would silently keep the last value)."""

    def __init__(self, key: Any, first_line: int, second_line: int):
        where = f"on line {first_line}" if first_line == second_line else f"(lines {first_line} and {second_line})"
        super().__init__(f"key {key!r} is given twice {where}; keep one")
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping (merge keys ``<<`` may still override)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKeyError(key, seen[key], line)
                seen[key] = line
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                continue
        return super().construct_mapping(node, deep=deep)


def parse_yaml_text(text: str) -> Any:
    """Parse YAML text with the safe loader, rejecting duplicate keys (:class:`DuplicateKeyError`)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader


def read_yaml(path: Path, what: str) -> Any:
    """Parse a UTF-8 YAML file; a missing file, a folder, bad bytes, bad syntax or a key given twice raise
    :class:`InputError` naming the file and line(s)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=path) from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, expected a YAML file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 ({exc.reason}); save the file as UTF-8", path=path, line=line) from None
    try:
        return parse_yaml_text(text.removeprefix("\ufeff"))
    except DuplicateKeyError as exc:
        raise InputError(str(exc), path=path, line=exc.second_line, field=str(exc.key)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"cannot parse YAML: {exc}", path=path, line=mark.line + 1 if mark else None) from None



def field_lines(path: str | os.PathLike[str]) -> dict[str, int]:
    """1-based line of every key and list item of a YAML file, by field path (``datasets[1].num_rows``); empty when
    the file cannot be read or parsed (the reader reports that)."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8").removeprefix("\ufeff"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}

    def walk(node: yaml.Node | None, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                name = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
                lines.setdefault(name, key_node.start_mark.line + 1)
                walk(value_node, name)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                name = f"{prefix}[{index}]"
                lines.setdefault(name, item.start_mark.line + 1)
                walk(item, name)

    walk(root, "")
    return lines
