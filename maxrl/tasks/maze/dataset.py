"""Maze data sets: a deterministic stream of encoded mazes, split into test and train.

Mazes are made in fixed-size chunks; chunk ``i`` draws from its own generator seeded by
``SeedSequence(seed, spawn_key=(i,))``, so the data depend only on (size, algorithm, seed, count) and never
on how many worker processes made them.

The test split is the first ``test_size`` distinct mazes of the stream; every later maze is training data
unless it repeats a test maze (small sizes have few distinct mazes: 192 at 7x7, 100,352 at 9x9), so the
test set measures generalisation rather than recall.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from maxrl.tasks.maze.encoding import encode_maze, split_sequence
from maxrl.tasks.maze.generator import ALGORITHMS, check_size, generate_maze

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2048
"""Mazes per seeded chunk. Part of the data's definition: changing it changes every maze after the first chunk."""


@dataclass(frozen=True)
class MazeRecord:
    """One maze as the paper's JSON stores it."""

    sequence: str
    optimal_path_length: int

    @property
    def prompt(self) -> str:
        return split_sequence(self.sequence)[0]


@dataclass
class SplitCounts:
    """How the stream was divided; filled in while ``assign_splits`` runs."""

    test: int = 0
    train: int = 0
    duplicates_of_test_dropped: int = 0


def _generate_chunk(task: tuple[int, int, int, str, int]) -> list[MazeRecord]:
    """Worker entry point: mazes ``[chunk * CHUNK_SIZE, chunk * CHUNK_SIZE + count)`` of the stream."""
    seed, chunk, size, algorithm, count = task
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk,)))
    records = []
    for _ in range(count):
        maze = generate_maze(size, rng, algorithm)
        records.append(MazeRecord(encode_maze(maze), len(maze.path)))
    return records


def generate_records(
    num_mazes: int, size: int, seed: int = 0, algorithm: str = "prim", workers: int = 1, progress: bool = True
) -> Iterator[MazeRecord]:
    """The first ``num_mazes`` mazes of the stream for (size, algorithm, seed), in order.

    ``workers > 1`` makes chunks in that many spawned processes; the output is identical.
    """
    check_size(size)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown maze algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    if num_mazes < 0 or workers < 1:
        raise ValueError(f"need num_mazes >= 0 and workers >= 1, got {num_mazes} and {workers}")
    tasks = [
        (seed, chunk, size, algorithm, min(CHUNK_SIZE, num_mazes - chunk * CHUNK_SIZE))
        for chunk in range(-(-num_mazes // CHUNK_SIZE))
    ]
    bar = tqdm(total=num_mazes, desc=f"mazes {size}x{size}", unit="maze", disable=not progress)
    with bar:
        if workers == 1:
            chunks: Iterator[list[MazeRecord]] = map(_generate_chunk, tasks)
            yield from _counted(chunks, bar)
        else:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                yield from _counted(pool.imap(_generate_chunk, tasks), bar)


def _counted(chunks: Iterator[list[MazeRecord]], bar: tqdm) -> Iterator[MazeRecord]:
    for chunk in chunks:
        yield from chunk
        bar.update(len(chunk))


def assign_splits(
    records: Iterator[MazeRecord], test_size: int, counts: SplitCounts | None = None
) -> Iterator[tuple[str, MazeRecord]]:
    """Label the stream: the first ``test_size`` distinct mazes are "test", the others "train", and repeats of
    a test maze are dropped. Streams, so a million mazes never sit in memory at once."""
    counts = counts if counts is not None else SplitCounts()
    test_prompts: set[str] = set()
    for record in records:
        prompt = record.prompt
        if prompt in test_prompts:
            counts.duplicates_of_test_dropped += 1
        elif counts.test < test_size:
            test_prompts.add(prompt)
            counts.test += 1
            yield "test", record
        else:
            counts.train += 1
            yield "train", record
    if counts.test < test_size:
        raise ValueError(
            f"only {counts.test} distinct mazes among those generated, fewer than test_size={test_size}: "
            "generate more mazes, use a larger size, or lower the test size"
        )
