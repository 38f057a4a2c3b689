"""Prepare the AIME 2025 evaluation set (30 problems) (arXiv 2602.02710; docs/experiments.md): test.parquet from math-ai/aime25 (test
split), data_source "aime25".

    python examples/maxrl_data_preprocess/aime25.py --local_dir ~/data/aime25
    python examples/maxrl_data_preprocess/aime25.py --local_dir ~/data/aime25 --input aime25.jsonl  # offline
"""

import logging

from maxrl.data.prep import SourceSplit, math_row_maker, prepare

SPLITS = (SourceSplit("math-ai/aime25", "test", "test"),)
make_row = math_row_maker("aime25")


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return prepare("aime25", __doc__, SPLITS, make_row, argv)


if __name__ == "__main__":
    main()
