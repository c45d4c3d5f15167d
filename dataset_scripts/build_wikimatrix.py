"""Build (and optionally push) an English→X translation corpus from WikiMatrix on the Hub.

    python dataset_scripts/build_wikimatrix.py --lang ar --output corpora/wm-ar --max-rows 200000
"""

import argparse

from _common import add_common_arguments, build_and_push

from coit_hf.data.public_sources import WIKIMATRIX_ID, wikimatrix_source

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--dataset-id", default=WIKIMATRIX_ID)
    args = parser.parse_args()
    source = wikimatrix_source(args.lang, dataset_id=args.dataset_id, max_rows=args.max_rows)
    build_and_push(args, [source], f"coit-wikimatrix-{args.lang}")
