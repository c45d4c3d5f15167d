"""Shared command-line plumbing of the dataset scripts: build a corpus folder, optionally push it."""

from __future__ import annotations

import argparse
import logging

from coit_hf.data.build import BuildConfig, build_corpus, format_report_table
from coit_hf.data.publish import push_corpus
from coit_hf.data.sources import SourceSpec


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", required=True, help="Target language code (coit_hf.languages registry).")
    parser.add_argument("--output", required=True, help="Corpus folder to write.")
    parser.add_argument("--max-rows", type=int, help="Read at most this many rows per source.")
    parser.add_argument("--validation-size", type=float, default=0.01, help="Fraction (<1) or rows per subset.")
    parser.add_argument("--decontaminate", action="append", default=[], help="Evaluation files (XQuAD/MLQA/Flores).")
    parser.add_argument("--push-to", help="Hub dataset repo to publish to, e.g. org/coit-zh.")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--overwrite", action="store_true")


def build_and_push(args: argparse.Namespace, sources: list[SourceSpec], name: str) -> None:
    logging.basicConfig(level=logging.INFO)
    size = args.validation_size
    config = BuildConfig(sources=sources, name=name, validation_size=int(size) if size >= 1 else size,
                         decontamination={"files": args.decontaminate})
    report = build_corpus(config, args.output, overwrite=args.overwrite)
    print(format_report_table(report))
    if args.push_to:
        print(push_corpus(args.output, args.push_to, private=args.private))
