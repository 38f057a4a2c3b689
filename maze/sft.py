"""Supervised warm start of the maze policy (see docs/maze.md).

    python maze/sft.py --train-data data/maze9/train.parquet --test-data data/maze9/test.parquet \
        --output-dir checkpoints/maze9_sft --max-steps 300
"""

from maxrl.tasks.maze.sft import main

if __name__ == "__main__":
    main()
