"""Prepare GSM8K-style problems generated offline by reasoning-gym's ``gsm_symbolic`` task.

For CPU-scale experiments on machines without hub access: the problems are GSM8K templates with fresh
numbers, written in the same parquet format and with the same prompt as gsm8k.py, data_source
"reasoning_gym/gsm_symbolic" (scored by math-verify). Train and test come from one generated stream with
repeated questions removed, so no test question appears in train; the same --seed gives the same files.

    python examples/maxrl_data_preprocess/reasoning_gym_math.py --local_dir ~/data/rg_gsm --train_size 2000
"""

import logging

from maxrl.data.prep import generated_splits_parser, gsm8k_prompt, verl_row, write_generated_splits
from maxrl.data.reasoning_gym_tasks import Preset, unique_problems

DATA_SOURCE = "reasoning_gym/gsm_symbolic"
TASK = "gsm_symbolic"


def make_row(entry: dict, index: int, split: str) -> dict:
    answer = str(entry["answer"])
    extra_info = {"split": split, "index": index, "question": entry["question"], "answer": answer}
    return verl_row(DATA_SOURCE, gsm8k_prompt(entry["question"]), answer, extra_info)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arguments = generated_splits_parser(__doc__, "reasoning_gym_gsm", train_size=2000, test_size=200)
    args = arguments.parse_args(argv)
    if args.train_size < 1 or args.test_size < 1:
        arguments.error("--train_size and --test_size must be positive")
    problems = unique_problems(Preset(TASK), args.train_size + args.test_size, args.seed)
    return write_generated_splits(problems, args.train_size, args.local_dir, make_row)


if __name__ == "__main__":
    main()
