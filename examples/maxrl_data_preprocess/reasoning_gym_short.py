"""Prepare an easy reasoning-gym task with short numeric answers (a preset of maxrl.data.reasoning_gym_tasks).

For RL on a small model at CPU scale: `python -m maxrl.experiments.task_probe` measures the model's pass@k on
each preset, and this script writes the one chosen in verl's parquet format, with the probe's prompt (the
question, then "Give only the final answer.") and data source ``reasoning_gym/<task>`` (scored by the
last number of the response, maxrl.rewards.final_number). Train and test come from one generated stream with repeated questions removed, so no test
question appears in train; the same --seed gives the same files.

    python examples/maxrl_data_preprocess/reasoning_gym_short.py --preset arith_1d --local_dir ~/data/rg_arith_1d --train_size 160
"""

import logging

from maxrl.data.prep import generated_splits_parser, verl_row, write_generated_splits
from maxrl.data.reasoning_gym_tasks import PRESETS, short_answer_prompt, unique_problems


def make_row(preset_name: str, entry: dict, index: int, split: str) -> dict:
    preset = PRESETS[preset_name]
    answer = str(entry["answer"])
    extra_info = {"split": split, "index": index, "question": entry["question"], "answer": answer,
                  "preset": preset_name}
    return verl_row(preset.data_source, short_answer_prompt(entry["question"]), answer, extra_info)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arguments = generated_splits_parser(__doc__, "reasoning_gym_short", train_size=1000, test_size=64)
    arguments.add_argument("--preset", required=True, choices=list(PRESETS), help="task and setting")
    args = arguments.parse_args(argv)
    if args.train_size < 1 or args.test_size < 1:
        arguments.error("--train_size and --test_size must be positive")
    problems = unique_problems(PRESETS[args.preset], args.train_size + args.test_size, args.seed)
    return write_generated_splits(problems, args.train_size, args.local_dir,
                                  lambda entry, index, split: make_row(args.preset, entry, index, split))


if __name__ == "__main__":
    main()
