"""Build (and optionally push) a paper-style x-model corpus: News-Commentary + WikiMatrix (en→X translation),
English Alpaca and Alpaca translated into X (Hub id or local JSON/JSONL).

    python dataset_scripts/build_coit_corpus.py --lang zh --alpaca-x data/alpaca_zh.json \
        --decontaminate xquad.zh.json --output corpora/coit-zh --push-to org/coit-zh
"""

import argparse

from _common import add_common_arguments, build_and_push

from coit_hf.data.public_sources import ALPACA_EN_ID, alpaca_source, news_commentary_source, wikimatrix_source

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--alpaca-en", default=ALPACA_EN_ID, help="English Alpaca: Hub id or local JSON/JSONL.")
    parser.add_argument("--alpaca-x", required=True, help="Alpaca translated into --lang: Hub id or local JSON/JSONL.")
    parser.add_argument("--no-wikimatrix", action="store_true", help="Only News-Commentary for translation.")
    args = parser.parse_args()
    sources = [news_commentary_source(args.lang, max_rows=args.max_rows)]
    if not args.no_wikimatrix:
        sources.append(wikimatrix_source(args.lang, max_rows=args.max_rows))
    sources += [alpaca_source("en", args.alpaca_en, max_rows=args.max_rows),
                alpaca_source(args.lang, args.alpaca_x, max_rows=args.max_rows)]
    build_and_push(args, sources, f"coit-{args.lang}")
