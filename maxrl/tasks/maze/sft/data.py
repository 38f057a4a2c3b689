"""Training data for the warm start: maze sequences as token ids, loss only on the answer (after the last
``PATH_START``: a multi-attempt transcript trains only its final attempt, `maxrl.tasks.maze.attempts`).

Files may be the paper's JSON (``sequence`` per record) or our verl parquet (``extra_info.answer`` holds
the full sequence, as the paper's SFT loader also expects). All sequences are tokenised once into one
padded ``uint8`` array (the vocabulary has 32 words), which keeps even a million 17x17 mazes in ~0.4 GB.

Batches are fixed by (seed, step): step ``s`` takes rows ``s*B .. s*B+B-1`` of the concatenation of
per-epoch permutations, each seeded by ``(seed, epoch)``. Resuming therefore needs only the step number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from maxrl.tasks.maze.encoding import PATH_START
from maxrl.tasks.maze.files import read_json_records
from maxrl.tasks.maze.tokenizer import VOCAB, build_tokenizer

IGNORE_INDEX = -100
PATH_START_ID = VOCAB.index(PATH_START)


def read_sequences(path: str | Path) -> list[str]:
    """Full maze sequences from a paper JSON file or a verl parquet file."""
    path = Path(path)
    if path.suffix == ".json":
        return [record.sequence for record in read_json_records(path)]
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path, columns=["extra_info"])
        sequences = []
        for row, info in enumerate(frame["extra_info"]):
            info = json.loads(info) if isinstance(info, str) else info
            if not info or not info.get("answer"):
                raise ValueError(f"{path}: row {row} has no extra_info.answer (the full maze sequence)")
            sequences.append(info["answer"])
        return sequences
    raise ValueError(f"maze data file must end in .json or .parquet: {path}")


@dataclass
class TokenizedMazes:
    """Token ids (right-padded with ``<pad>``), true lengths, and where each answer starts."""

    ids: np.ndarray  # [N, max_len] uint8
    lengths: np.ndarray  # [N] int
    answer_starts: np.ndarray  # [N] int: index of the first token after PATH_START
    sequences: list[str]

    def __len__(self) -> int:
        return len(self.sequences)

    @classmethod
    def from_sequences(cls, sequences: list[str], max_length: int, source: str = "data") -> TokenizedMazes:
        if not sequences:
            raise ValueError(f"{source}: no maze sequences")
        tokenizer = build_tokenizer()
        encoded = tokenizer(sequences, add_special_tokens=False)["input_ids"]
        lengths = np.array([len(ids) for ids in encoded])
        if lengths.max() > max_length:
            row = int(lengths.argmax())
            raise ValueError(
                f"{source}: sequence {row} has {lengths[row]} tokens > max_length={max_length}; raise max_length "
                "(a 17x17 maze needs about 340, the model's positions grow with it)"
            )
        ids = np.full((len(encoded), int(lengths.max())), VOCAB.index("<pad>"), dtype=np.uint8)
        answer_starts = np.empty(len(encoded), dtype=np.int64)
        for row, seq_ids in enumerate(encoded):
            ids[row, : len(seq_ids)] = seq_ids
            if PATH_START_ID not in seq_ids:
                raise ValueError(f"{source}: sequence {row} has no {PATH_START}")
            # After the last PATH_START: earlier (failed) attempts and their feedback are context, not targets.
            answer_starts[row] = len(seq_ids) - seq_ids[::-1].index(PATH_START_ID)
        return cls(ids=ids, lengths=lengths, answer_starts=answer_starts, sequences=list(sequences))

    @classmethod
    def load(cls, path: str | Path, max_length: int) -> TokenizedMazes:
        return cls.from_sequences(read_sequences(path), max_length, source=str(path))

    def prompt_ids(self, row: int) -> list[int]:
        return self.ids[row, : self.answer_starts[row]].tolist()

    def collate(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``labels`` (-100 up to and including PATH_START and on
        padding), trimmed to the longest of these rows."""
        width = int(self.lengths[rows].max())
        input_ids = torch.from_numpy(self.ids[rows, :width].astype(np.int64))
        positions = torch.arange(width)
        attention_mask = (positions < torch.from_numpy(self.lengths[rows])[:, None]).long()
        is_answer = positions >= torch.from_numpy(self.answer_starts[rows])[:, None]
        labels = torch.where(is_answer & attention_mask.bool(), input_ids, IGNORE_INDEX)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Full batches per epoch (the last partial batch is dropped)."""
    if num_examples < batch_size:
        raise ValueError(f"training set has {num_examples} mazes, fewer than batch_size={batch_size}")
    return num_examples // batch_size


def batch_rows(step: int, num_examples: int, batch_size: int, seed: int) -> np.ndarray:
    """The training rows of (0-based) optimiser step ``step``."""
    per_epoch = steps_per_epoch(num_examples, batch_size)
    epoch, within = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(num_examples)
    return order[within * batch_size : (within + 1) * batch_size]
