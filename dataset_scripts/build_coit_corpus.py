"""Build (and optionally push) a paper-style x-model corpus from public sources: en→X translation pairs
(News-Commentary where it covers X, WikiMatrix, OPUS-100), English Alpaca, and Alpaca translated into X
(Bactrian-X by default; Greek is not in Bactrian-X, so el needs --alpaca-x FILE).

    python dataset_scripts/build_coit_corpus.py --lang zh --decontaminate xquad.zh.json --output corpora/coit-zh
    python dataset_scripts/build_coit_corpus.py --lang el --alpaca-x data/alpaca_el.json --output corpora/coit-el
"""

import argparse

from _common import add_common_arguments, build_and_push

from coit_hf.data.public_sources import ALPACA_EN_ID, coit_corpus_sources

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--alpaca-en", default=ALPACA_EN_ID, help="English Alpaca: Hub id or local JSON/JSONL.")
    parser.add_argument("--alpaca-x", default=None,
                        help="Alpaca translated into --lang: Hub id or local JSON/JSONL (default: Bactrian-X; "
                        "required for el, which Bactrian-X lacks).")
    parser.add_argument("--no-wikimatrix", action="store_true", help="Leave WikiMatrix out.")
    parser.add_argument("--no-opus100", action="store_true", help="Leave OPUS-100 out.")
    args = parser.parse_args()
    sources = coit_corpus_sources(args.lang, alpaca_x=args.alpaca_x, alpaca_en=args.alpaca_en,
                                  wikimatrix=not args.no_wikimatrix, opus100=not args.no_opus100,
                                  max_rows=args.max_rows)
    build_and_push(args, sources, f"coit-{args.lang}")
