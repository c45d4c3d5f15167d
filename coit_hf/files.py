"""The package's one file I/O module: every file or folder we write goes through a temp name and a rename (whole or
not at all, with the permissions a plain ``open`` would give), and every file the user names is read with errors
that say which file, line and field.

- write: :func:`replacing` (any writer given a temp path), :func:`write_text`, :func:`write_json`,
  :func:`write_jsonl`, :func:`write_parquet`, :func:`write_png`, :func:`replacing_folder` (a model folder);
- read: :func:`read_json`, :func:`read_optional_json_object`, :func:`read_yaml`, :func:`iter_text_lines`, :func:`iter_jsonl`;
- locate: :func:`line_of` (a YAML key), :func:`line_containing` (any text), :func:`field_lines` (every YAML field);
- parse: :func:`split_key_value`, :func:`parse_key_values` (``KEY=VALUE`` command-line options);
- check paths before work: :func:`require_file`, :func:`require_output_dir`, :func:`require_output_file`,
  :func:`require_model_path`.

``tempfile.mkstemp`` creates files with mode 0600 and ``mkdtemp`` folders with 0700 whatever the umask, so a file
written through a temp name and renamed into place would be private; :func:`normal_permissions` gives it the mode a
plain ``open``/``mkdir`` would have (0666/0777 less the umask) before the rename.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from coit_hf.errors import ConfigError, InputError

PathLike = str | os.PathLike[str]


# ------------------------------------------------------------------------------------------------- permissions
def current_umask() -> int:
    """The process umask (read by setting it and restoring it: the standard library has no getter before 3.13)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_permissions(path: PathLike, *, recursive: bool = False) -> None:
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


# ------------------------------------------------------------------------------------------------------ writing
@contextlib.contextmanager
def replacing(path: PathLike) -> Iterator[Path]:
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


def write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: PathLike, data: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None,
               allow_nan: bool = False) -> Path:
    """Write ``data`` as UTF-8 JSON (non-ASCII kept, a final newline) to ``path`` whole or not at all.

    NaN/inf are refused (``ValueError``) unless ``allow_nan``: strict JSON readers reject them.
    """
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=indent, default=default, allow_nan=allow_nan)
        handle.write("\n")
    return Path(path)


def write_jsonl(path: PathLike, rows: Iterable[Any]) -> Path:
    """Write one JSON object per line to ``path`` whole or not at all."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


def write_parquet(path: PathLike, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as one Parquet file (the ``datasets`` library's schema inference) whole or not at all."""
    import datasets

    with replacing(path) as tmp:
        datasets.Dataset.from_list(rows).to_parquet(str(tmp))
    return Path(path)


def write_png(path: PathLike, figure: Any, **savefig: Any) -> Path:
    """Save a matplotlib ``figure`` as PNG to ``path`` whole or not at all (``savefig`` options passed on)."""
    with replacing(path) as tmp:
        figure.savefig(tmp, format="png", **savefig)
    return Path(path)


@contextlib.contextmanager
def replacing_folder(path: PathLike) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; when the block ends without error everything in it gets normal
    permissions and the folder replaces ``path`` (an existing folder there is removed first), otherwise it is
    removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        normal_permissions(tmp, recursive=True)  # mkdtemp and safetensors write private modes
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------------ reading
def require_file(path: PathLike, *, missing: str = "file not found") -> Path:
    """``path`` as a Path when it is a non-empty regular file; otherwise an :class:`InputError` with the real cause."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, expected a file", path=path)
    if not path.is_file():
        raise InputError(missing, path=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=path)
    return path


def read_json(path: PathLike, *, missing: str = "file not found") -> Any:
    """Parse the JSON file ``path``; raise :class:`InputError` (with ``missing`` as the not-found message).

    A key given twice in one object is an error (``json`` alone keeps the last value silently).
    """
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
    except _DuplicateJsonKey as exc:
        raise InputError(f"key {exc.args[0]!r} is given twice in one object; keep one", path=path,
                         field=exc.args[0]) from None


def read_optional_json_object(path: PathLike) -> dict[str, Any]:
    """The top-level object of an optional record file (a build report, card state, lock), or ``{}`` when the file
    is missing, unreadable or holds no JSON object: there, a broken file means "nothing recorded"."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class _DuplicateJsonKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKey(key)
        out[key] = value
    return out


def iter_text_lines(path: PathLike, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, decoded line without the newline) of a UTF-8 file; errors name file and line.

    ``start``/``stop`` restrict it to the 0-based line range [start, stop): lines before ``start`` are skipped
    without being decoded. Raises :class:`InputError` for a missing or empty file and for bytes that are not UTF-8.
    """
    path = require_file(path)
    with path.open("rb") as handle:
        lines = itertools.islice(handle, start, stop) if start or stop is not None else handle
        for number, raw in enumerate(lines, start=start + 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8 ({exc.reason} at byte {exc.start} of the line)",
                                 path=path, line=number) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield number, text.rstrip("\r\n")


def iter_jsonl(path: PathLike, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a JSONL file (optionally of a 0-based line range);
    a line that is not a JSON object is an :class:`InputError` naming the file and line."""
    for number, text in iter_text_lines(path, start, stop):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"broken JSON line: {exc.msg} (column {exc.colno})", path=path, line=number) from None
        if not isinstance(obj, dict):
            raise InputError("each JSONL line must be a JSON object", path=path, line=number)
        yield number, obj


# --------------------------------------------------------------------------------------------------------- YAML
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


def read_yaml(path: PathLike, what: str) -> Any:
    """Parse a UTF-8 YAML file; a missing file, a folder, bad bytes, bad syntax or a key given twice raise
    :class:`InputError` naming the file and line(s). ``what`` names the file in messages ("recipe")."""
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


def line_of(path: PathLike | None, key: str) -> int | None:
    """1-based line of the first ``key:`` in a YAML file (for error messages), or None."""
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            stripped = text.lstrip(" -{,")
            if stripped.startswith(f"{key}:") or f" {key}:" in text or f"{{{key}:" in text:
                return number
    return None


def line_containing(path: PathLike | None, token: str) -> int | None:
    """1-based line of the first occurrence of ``token`` in a text file (for error messages), or None."""
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if token in line:
                return number
    return None


def field_lines(path: PathLike) -> dict[str, int]:
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


# --------------------------------------------------------------------------------------------- KEY=VALUE options
def split_key_value(item: str, option: str, *, form: str = "KEY=VALUE", strip: bool = True,
                    allow_empty_value: bool = False) -> tuple[str, str]:
    """One ``KEY=VALUE`` command-line value -> ``(key, value)`` (split at the first ``=``).

    A value without ``=``, an empty key, or an empty value (unless ``allow_empty_value``) is a :class:`ConfigError`
    naming ``option``, the expected ``form`` and the item. Both sides are stripped of blanks unless ``strip`` is False.
    """
    key, sep, value = item.partition("=")
    if strip:
        key, value = key.strip(), value.strip()
    if not sep or not key or (not value and not allow_empty_value):
        raise ConfigError(f"{option} expects {form}, got {item!r}")
    return key, value


def parse_key_values(items: Iterable[str] | None, option: str, *, form: str = "KEY=VALUE",
                     convert: Callable[[str], Any] = str, strip: bool = True,
                     allow_empty_value: bool = False) -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` command-line values -> ``{key: convert(value)}`` in the order given.

    Besides :func:`split_key_value`'s checks, a key given twice or a value that ``convert`` rejects
    (``ValueError``/``ConfigError``) is a :class:`ConfigError` naming ``option`` and the item.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, value = split_key_value(item, option, form=form, strip=strip, allow_empty_value=allow_empty_value)
        if key in out:
            raise ConfigError(f"{option}: {key!r} is given twice ({item!r}); keep one")
        try:
            out[key] = convert(value)
        except ConfigError as exc:
            raise ConfigError(f"{option} {item!r}: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{option} {item!r}: bad value {value!r} ({exc})") from None
    return out


# ------------------------------------------------------------------------------------------------- path checks
def require_output_dir(path: PathLike, option: str = "--output-dir") -> Path:
    """``path`` as an output folder: an existing file there (or as a parent) is an error naming ``option``."""
    path = Path(path)
    for item in (path, *path.parents):
        if item.exists() and not item.is_dir():
            where = "is a file" if item == path else f"has a file as parent ({item})"
            raise InputError(f"{option} {where}; expected a folder (or a path where one can be created)", path=path)
    return path


def require_output_file(path: PathLike, option: str = "--output") -> Path:
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
