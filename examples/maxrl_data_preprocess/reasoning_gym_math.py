"""Prepare GSM8K-style problems generated offline by reasoning-gym's ``gsm_symbolic`` task.

For CPU-scale experiments on machines without hub access: the problems are GSM8K templates with fresh
numbers, written in the same parquet format and with the same prompt as gsm8k.py, data_source
"reasoning_gym/gsm_symbolic" (scored by math-verify). Train and test come from one generated stream with
repeated questions removed, so no test question appears in train; the same --seed gives the same files.

    python examples/maxrl_data_preprocess/reasoning_gym_math.py --local_dir ~/data/rg_gsm --train_size 2000
"""

import argparse
import logging
from pathlib import Path

import reasoning_gym

from maxrl.data.prep import gsm8k_prompt, verl_row, write_parquet

DATA_SOURCE = "reasoning_gym/gsm_symbolic"
TASK = "gsm_symbolic"


def unique_problems(count: int, seed: int) -> list[dict]:
    """The first ``count`` distinct questions of the task's stream for ``seed``."""
    size = count
    while True:
        distinct = {}
        for entry in reasoning_gym.create_dataset(TASK, size=size, seed=seed):
            distinct.setdefault(entry["question"], entry)
        if len(distinct) >= count:
            return list(distinct.values())[:count]
        size = int(size * 1.2) + 10


def make_row(entry: dict, index: int, split: str) -> dict:
    answer = str(entry["answer"])
    extra_info = {"split": split, "index": index, "question": entry["question"], "answer": answer}
    return verl_row(DATA_SOURCE, gsm8k_prompt(entry["question"]), answer, extra_info)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arguments = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arguments.add_argument("--local_dir", default="~/data/reasoning_gym_gsm", help="output folder")
    arguments.add_argument(
        "--train_size", type=int, default=2000, help="training problems (default: %(default)s)"
    )
    arguments.add_argument("--test_size", type=int, default=200, help="test problems (default: %(default)s)")
    arguments.add_argument("--seed", type=int, default=42, help="generator seed (default: %(default)s)")
    args = arguments.parse_args(argv)
    if args.train_size < 1 or args.test_size < 1:
        arguments.error("--train_size and --test_size must be positive")
    problems = unique_problems(args.train_size + args.test_size, args.seed)
    splits = {"train": problems[: args.train_size], "test": problems[args.train_size :]}
    written = []
    for split, entries in splits.items():
        rows = [make_row(entry, index, split) for index, entry in enumerate(entries)]
        path = write_parquet(rows, Path(args.local_dir).expanduser() / f"{split}.parquet")
        logging.info("wrote %d %s problems to %s", len(rows), split, path)
        written.append(path)
    return written


if __name__ == "__main__":
    main()
