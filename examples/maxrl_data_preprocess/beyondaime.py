"""Prepare the BeyondAIME evaluation set (100 problems) (arXiv 2602.02710; docs/experiments.md): test.parquet from ByteDance-
Seed/BeyondAIME (test split), data_source "beyondaime".

    python examples/maxrl_data_preprocess/beyondaime.py --local_dir ~/data/beyondaime
    python examples/maxrl_data_preprocess/beyondaime.py --local_dir ~/data/beyondaime --input beyondaime.jsonl  # offline
"""

import logging

from maxrl.data.prep import SourceSplit, math_row_maker, prepare

SPLITS = (SourceSplit("ByteDance-Seed/BeyondAIME", "test", "test"),)
make_row = math_row_maker("beyondaime")


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return prepare("beyondaime", __doc__, SPLITS, make_row, argv)


if __name__ == "__main__":
    main()
