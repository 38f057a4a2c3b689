"""Multiplication problems as verl parquet (``data_source`` `DATA_SOURCE`, ground truth the product).

    python -m maxrl.tasks.calculator.data --output-dir data/calculator --train 20000 --test 256

Train and test pairs are disjoint; the same seed gives the same files.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

from maxrl.tasks.calculator import DATA_SOURCE

__all__ = ["problem_rows", "question", "main"]

logger = logging.getLogger(__name__)
LOW, HIGH = 100, 999


def question(a: int, b: int) -> str:
    return f"What is {a}*{b}?"


def _pairs(count: int, rng: random.Random, taken: set) -> list[tuple[int, int]]:
    pairs = []
    while len(pairs) < count:
        pair = (rng.randint(LOW, HIGH), rng.randint(LOW, HIGH))
        if pair not in taken:
            taken.add(pair)
            pairs.append(pair)
    return pairs


def problem_rows(count: int, split: str, rng: random.Random, taken: set) -> list[dict]:
    """`count` verl rows of new (a, b) pairs (not in `taken`, which grows)."""
    return [
        {
            "data_source": DATA_SOURCE,
            "prompt": [{"role": "user", "content": question(a, b)}],
            "ability": "arithmetic",
            "reward_model": {"style": "rule", "ground_truth": str(a * b)},
            "extra_info": {"split": split, "index": index, "a": a, "b": b},
        }
        for index, (a, b) in enumerate(_pairs(count, rng, taken))
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write multiplication problems as verl parquet files.")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--train", type=int, default=20000, help="training problems")
    parser.add_argument("--test", type=int, default=256, help="test problems (none of them in train)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import pandas as pd

    rng, taken = random.Random(args.seed), set()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for split, count in (("test", args.test), ("train", args.train)):
        pd.DataFrame(problem_rows(count, split, rng, taken)).to_parquet(args.output_dir / f"{split}.parquet")
    logger.info("wrote %d training and %d test problems to %s", args.train, args.test, args.output_dir)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
