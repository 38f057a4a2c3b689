"""Prepare the Minerva math evaluation set (272 problems) (arXiv 2602.02710; docs/experiments.md): test.parquet from math-
ai/minervamath (test split), data_source "minerva".

    python examples/maxrl_data_preprocess/minerva.py --local_dir ~/data/minerva
    python examples/maxrl_data_preprocess/minerva.py --local_dir ~/data/minerva --input minerva.jsonl  # offline
"""

import logging

from maxrl.data.prep import SourceSplit, math_row_maker, prepare

SPLITS = (SourceSplit("math-ai/minervamath", "test", "test"),)
make_row = math_row_maker("minerva", problem_field="question")


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return prepare("minerva", __doc__, SPLITS, make_row, argv)


if __name__ == "__main__":
    main()
