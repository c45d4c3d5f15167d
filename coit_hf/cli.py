"""`coit-hf` command line: one sub-command family per stage of the workflow.

Each stage module exposes ``register(subparsers)``, which adds its sub-commands and sets ``func`` on the parsed
namespace; this module only wires them together, sets up logging and turns :class:`CoitError` into a clean exit.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence

from coit_hf import __version__
from coit_hf.errors import CoitError

# Stage modules in workflow order; each registers its own sub-commands (data, model, eval, report, scaling, align, demo).
STAGE_MODULES = (
    "coit_hf.languages_cli",
    "coit_hf.data.cli",
    "coit_hf.training.cli",
    "coit_hf.evaluation.cli",
    "coit_hf.scaling.cli",
    "coit_hf.analysis.cli",
    "coit_hf.demo",
)

logger = logging.getLogger("coit_hf")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every installed stage's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="coit-hf",
        description="Cross-lingual instruction tuning (CoIT) on the Hugging Face stack: corpora, training recipes, "
        "evaluation, scaling laws and alignment analysis.",
    )
    parser.add_argument("--version", action="version", version=f"coit-hf {__version__}")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks and debug logging.")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only log warnings and errors.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in STAGE_MODULES:
        # A stage not yet present in this checkout simply adds no commands; a present one that fails to import raises.
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `coit-hf` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        result = args.func(args)
    except CoitError as exc:
        if args.debug:
            raise
        print(f"coit-hf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coit-hf: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
