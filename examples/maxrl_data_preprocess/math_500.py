"""Prepare the MATH-500 evaluation set (500 problems) (arXiv 2602.02710; docs/experiments.md): test.parquet from
HuggingFaceH4/MATH-500 (test split), data_source "DigitalLearningGmbH/MATH-lighteval".

    python examples/maxrl_data_preprocess/math_500.py --local_dir ~/data/math_500
    python examples/maxrl_data_preprocess/math_500.py --local_dir ~/data/math_500 --input math_500.jsonl  # offline
"""

import logging

from maxrl.data.prep import SourceSplit, math_row_maker, prepare

SPLITS = (SourceSplit("HuggingFaceH4/MATH-500", "test", "test"),)
make_row = math_row_maker("DigitalLearningGmbH/MATH-lighteval")


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return prepare("math_500", __doc__, SPLITS, make_row, argv)


if __name__ == "__main__":
    main()
