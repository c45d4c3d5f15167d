"""`coit-hf languages`: list the language registry (built-ins plus configured files)."""

from __future__ import annotations

import argparse
import dataclasses
import json

from coit_hf.languages import get_language, language_codes, load_language_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("languages", help="List registered languages (built-in and configured).")
    parser.add_argument("--languages-file", action="append", default=[], help="YAML/JSON file of extra languages.")
    parser.add_argument("--json", action="store_true", help="Print the full entries as JSON.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.languages_file:
        load_language_file(path)
    entries = [get_language(code) for code in language_codes()]
    if args.json:
        print(json.dumps([dataclasses.asdict(e) for e in entries], ensure_ascii=False, indent=2))
    else:
        for e in entries:
            print(f"{e.code:6} {e.name:12} {e.native_name:12} scripts={','.join(e.scripts)} flores={e.flores200_code}")
    return 0
