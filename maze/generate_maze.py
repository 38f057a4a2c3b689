"""Make maze data: the paper's JSON and verl parquet (see docs/maze.md).

    python maze/generate_maze.py --num-mazes 1000000 --size 17 --seed 0 --test-size 256 --output-dir data/maze17
    python maze/generate_maze.py --from-json DIR --output-dir DIR   # paper JSON -> parquet
"""

from maxrl.tasks.maze.make_data import main

if __name__ == "__main__":
    main()
