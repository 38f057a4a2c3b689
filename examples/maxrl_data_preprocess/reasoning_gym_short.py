"""Prepare an easy reasoning-gym task with short numeric answers (a preset of maxrl.data.reasoning_gym_tasks).

For RL on a small model at CPU scale: `python -m maxrl.experiments.task_probe` measures the model's pass@k on
each preset, and this script writes the one chosen in verl's parquet format, with the probe's prompt (the
question, then "Give only the final answer.") and data source ``reasoning_gym/<task>`` (scored by the
last number of the response, maxrl.rewards.final_number). Train and test come from one generated stream with repeated questions removed, so no test
question appears in train; the same --seed gives the same files.

    python examples/maxrl_data_preprocess/reasoning_gym_short.py --preset arith_1d --local_dir ~/data/rg_arith_1d --train_size 160
"""

import argparse
import logging
from pathlib import Path

from maxrl.data.prep import verl_row, write_parquet
from maxrl.data.reasoning_gym_tasks import PRESETS, short_answer_prompt, unique_problems


def make_row(preset_name: str, entry: dict, index: int, split: str) -> dict:
    preset = PRESETS[preset_name]
    answer = str(entry["answer"])
    extra_info = {"split": split, "index": index, "question": entry["question"], "answer": answer,
                  "preset": preset_name}
    return verl_row(preset.data_source, short_answer_prompt(entry["question"]), answer, extra_info)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arguments = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arguments.add_argument("--preset", required=True, choices=list(PRESETS), help="task and setting")
    arguments.add_argument("--local_dir", default="~/data/reasoning_gym_short", help="output folder")
    arguments.add_argument(
        "--train_size", type=int, default=1000, help="training problems (default: %(default)s)"
    )
    arguments.add_argument("--test_size", type=int, default=64, help="test problems (default: %(default)s)")
    arguments.add_argument("--seed", type=int, default=42, help="generator seed (default: %(default)s)")
    args = arguments.parse_args(argv)
    if args.train_size < 1 or args.test_size < 1:
        arguments.error("--train_size and --test_size must be positive")
    problems = unique_problems(PRESETS[args.preset], args.train_size + args.test_size, args.seed)
    splits = {"train": problems[: args.train_size], "test": problems[args.train_size :]}
    written = []
    for split, entries in splits.items():
        rows = [make_row(args.preset, entry, index, split) for index, entry in enumerate(entries)]
        path = write_parquet(rows, Path(args.local_dir).expanduser() / f"{split}.parquet")
        logging.info("wrote %d %s problems to %s", len(rows), split, path)
        written.append(path)
    return written


if __name__ == "__main__":
    main()
