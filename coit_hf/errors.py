"""Errors that carry a message for the user (file, line/row, field) rather than a traceback."""

from __future__ import annotations


class CoitError(Exception):
    """Base class of errors caused by user input or environment; the CLI prints them without a traceback."""


class InputError(CoitError):
    """Bad input data: names the file and, where known, the line/row and field.

    Args:
        message: what is wrong and what to change.
        path: the file (or dataset id) that holds the bad input.
        line: 1-based line or row number, when known.
        field: the field/column/key concerned, when known.
    """

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None, field: str | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(CoitError):
    """A bad recipe / mixture / registry configuration value."""
