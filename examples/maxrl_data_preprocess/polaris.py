"""Prepare the POLARIS training set (~53K problems) (arXiv 2602.02710; docs/experiments.md): train.parquet from POLARIS-
Project/Polaris-Dataset-53K (train split), data_source "polaris".

    python examples/maxrl_data_preprocess/polaris.py --local_dir ~/data/polaris
    python examples/maxrl_data_preprocess/polaris.py --local_dir ~/data/polaris --input polaris.jsonl  # offline
"""

import logging

from maxrl.data.prep import SourceSplit, math_row_maker, prepare

SPLITS = (SourceSplit("POLARIS-Project/Polaris-Dataset-53K", "train", "train"),)
make_row = math_row_maker("polaris")


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return prepare("polaris", __doc__, SPLITS, make_row, argv)


if __name__ == "__main__":
    main()
