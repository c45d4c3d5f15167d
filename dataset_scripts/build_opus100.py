"""Build (and optionally push) an English→X translation corpus from OPUS-100 on the Hub (ar el hi tr vi zh).

    python dataset_scripts/build_opus100.py --lang el --output corpora/opus100-el --max-rows 200000
"""

import argparse

from _common import add_common_arguments, build_and_push

from coit_hf.data.public_sources import OPUS100_ID, OPUS100_REVISION, opus100_source

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--dataset-id", default=OPUS100_ID)
    parser.add_argument("--revision", default=OPUS100_REVISION)
    args = parser.parse_args()
    source = opus100_source(args.lang, dataset_id=args.dataset_id, revision=args.revision, max_rows=args.max_rows)
    build_and_push(args, [source], f"coit-opus100-{args.lang}")
