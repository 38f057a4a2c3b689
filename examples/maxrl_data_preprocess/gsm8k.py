"""Prepare GSM8K for the SmolLM2 experiment (arXiv 2602.02710; docs/experiments.md).

train.parquet from openai/gsm8k (main, train; 7,473 problems) and test.parquet from the cleaned
madrylab/gsm8k-platinum (main, test) used for validation. Both use data_source "openai/gsm8k", as in the
paper, so validation metrics keep the paper's names. Ground truth = the number after "#### ", commas removed.

    python examples/maxrl_data_preprocess/gsm8k.py --local_dir ~/data/gsm8k
    python examples/maxrl_data_preprocess/gsm8k.py --input train.jsonl --test_input platinum.jsonl
"""

import logging
import re

from maxrl.data.prep import SourceRowError, SourceSplit, field, gsm8k_prompt, prepare, verl_row

DATA_SOURCE = "openai/gsm8k"
SPLITS = (
    SourceSplit("openai/gsm8k", "train", "train", "--input", hub_config="main"),
    SourceSplit("madrylab/gsm8k-platinum", "test", "test", "--test_input", hub_config="main"),
)
FINAL_ANSWER = re.compile(r"#### (-?[0-9.,]+)")


def final_answer(solution: str, origin: str, index: int) -> str:
    match = FINAL_ANSWER.search(solution)
    if match is None:
        raise SourceRowError(f"{origin}, row {index}: no '#### <number>' final answer in {solution[-200:]!r}")
    return match.group(1).replace(",", "")


def make_row(example: dict, index: int, split: str, origin: str) -> dict:
    question = field(example, "question", origin, index)
    solution = field(example, "answer", origin, index)
    extra_info = {"split": split, "index": index, "answer": solution, "question": question}
    return verl_row(DATA_SOURCE, gsm8k_prompt(question), final_answer(solution, origin, index), extra_info)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return prepare("gsm8k", __doc__, SPLITS, make_row, argv)


if __name__ == "__main__":
    main()
