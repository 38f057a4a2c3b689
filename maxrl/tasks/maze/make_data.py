"""Command line for maze data: generate a data set, or convert the paper's JSON to parquet.

    python maze/generate_maze.py --num-mazes 1000000 --size 17 --seed 0 --test-size 256 --output-dir data/maze17
    python maze/generate_maze.py --from-json path/to/paper_json_dir --output-dir data/maze17
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from maxrl.tasks.maze.dataset import CHUNK_SIZE, SplitCounts, assign_splits, generate_records
from maxrl.tasks.maze.files import FORMATS, json_to_parquet, read_prompts, write_metadata, write_splits
from maxrl.tasks.maze.generator import ALGORITHMS, check_size

logger = logging.getLogger(__name__)


def make_dataset(
    output_dir: str | Path,
    num_mazes: int,
    size: int = 17,
    seed: int = 0,
    test_size: int = 256,
    algorithm: str = "prim",
    workers: int = 1,
    formats: tuple[str, ...] = FORMATS,
    progress: bool = True,
    exclude: tuple[str | Path, ...] = (),
) -> dict[str, Any]:
    """Generate ``num_mazes`` mazes, split them, write the files and ``training_metadata.json``.

    Mazes whose prompt is in one of the parquet files `exclude` are dropped before the split, so a test
    set made with another seed is held out from an existing data set (e.g. one a model was trained on).
    Returns the metadata (counts, path-length statistics, generation speed).
    """
    check_size(size)
    if not 0 < test_size < num_mazes:
        raise ValueError(f"need 0 < test_size < num_mazes, got test_size={test_size}, num_mazes={num_mazes}")
    counts = SplitCounts()
    lengths: list[int] = []
    excluded_prompts = read_prompts(exclude)
    dropped = 0

    def kept(records):
        nonlocal dropped
        for record in records:
            if record.prompt in excluded_prompts:
                dropped += 1
            else:
                yield record

    def labelled():
        records = kept(generate_records(num_mazes, size, seed, algorithm, workers, progress))
        for split, record in assign_splits(records, test_size, counts):
            lengths.append(record.optimal_path_length)
            yield split, record

    began = time.perf_counter()
    write_splits(labelled(), output_dir, formats)
    seconds = time.perf_counter() - began
    metadata = {
        "size": size,
        "algorithm": algorithm,
        "seed": seed,
        "chunk_size": CHUNK_SIZE,
        "num_mazes_generated": num_mazes,
        "num_train": counts.train,
        "num_test": counts.test,
        "duplicates_of_test_dropped": counts.duplicates_of_test_dropped,
        "excluded_files": [str(path) for path in exclude],
        "excluded_dropped": dropped,
        "optimal_path_length": {
            "min": min(lengths),
            "max": max(lengths),
            "mean": statistics.fmean(lengths),
        },
        "formats": list(formats),
        "workers": workers,
        "seconds": round(seconds, 2),
        "mazes_per_second": round(num_mazes / seconds, 1),
    }
    write_metadata(Path(output_dir) / "training_metadata.json", metadata)
    return metadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Make maze data (paper JSON + verl parquet), or convert the paper's JSON to parquet."
    )
    parser.add_argument("--output-dir", "--out", required=True, help="folder for train/test .json/.parquet")
    parser.add_argument("--num-mazes", type=int, default=1_000_000, help="mazes generated in total (test included)")
    parser.add_argument("--size", type=int, default=17, help="odd grid side, >= 5 (default 17)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=256, help="distinct test mazes (default 256)")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="prim")
    parser.add_argument("--workers", type=int, default=1, help="generator processes; output does not depend on it")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument(
        "--from-json",
        metavar="DIR",
        help="instead of generating, convert DIR/train.json and DIR/test.json (paper format) to parquet",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--exclude", nargs="+", default=[], metavar="PARQUET",
        help="drop mazes whose prompt is in these verl parquet files (hold a new test set out of existing data)",
    )
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.from_json:
        counts = json_to_parquet(args.from_json, args.output_dir)
        logger.info("wrote %s parquet rows to %s", counts, args.output_dir)
        return counts
    metadata = make_dataset(
        args.output_dir,
        num_mazes=args.num_mazes,
        size=args.size,
        seed=args.seed,
        test_size=args.test_size,
        algorithm=args.algorithm,
        workers=args.workers,
        formats=tuple(args.formats),
        progress=not args.no_progress,
        exclude=tuple(args.exclude),
    )
    logger.info(
        "%d train + %d test mazes of size %d in %s: %.0f mazes/s",
        metadata["num_train"],
        metadata["num_test"],
        args.size,
        args.output_dir,
        metadata["mazes_per_second"],
    )
    return metadata
