"""Build (and optionally push) an instruction-only corpus: English Alpaca plus Alpaca translated into X
(Bactrian-X by default).

    python dataset_scripts/build_translated_alpaca.py --lang vi --alpaca-x data/alpaca_vi.json --output corpora/alpaca-vi
"""

import argparse

from _common import add_common_arguments, build_and_push

from coit_hf.data.public_sources import ALPACA_EN_ID, alpaca_source, bactrian_x_source

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--alpaca-en", default=ALPACA_EN_ID, help="English Alpaca: Hub id or local JSON/JSONL.")
    parser.add_argument("--alpaca-x", default=None, help="Alpaca translated into --lang: Hub id or local JSON/JSONL "
                        "(default: Bactrian-X data/{lang}.json.gz; it has no Greek).")
    args = parser.parse_args()
    sources = [alpaca_source("en", args.alpaca_en, max_rows=args.max_rows),
               alpaca_source(args.lang, args.alpaca_x, max_rows=args.max_rows) if args.alpaca_x
               else bactrian_x_source(args.lang, max_rows=args.max_rows)]
    build_and_push(args, sources, f"coit-alpaca-{args.lang}")
