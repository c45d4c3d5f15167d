"""Build (and optionally push) an English→X translation corpus from OPUS News-Commentary on the Hub.

    python dataset_scripts/build_news_commentary.py --lang zh --output corpora/nc-zh --push-to org/coit-nc-zh
"""

import argparse

from _common import add_common_arguments, build_and_push

from coit_hf.data.public_sources import NEWS_COMMENTARY_ID, news_commentary_source

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--dataset-id", default=NEWS_COMMENTARY_ID)
    args = parser.parse_args()
    source = news_commentary_source(args.lang, dataset_id=args.dataset_id, max_rows=args.max_rows)
    build_and_push(args, [source], f"coit-news-commentary-{args.lang}")
