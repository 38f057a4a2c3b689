"""Turning generated token ids into rewards: decode, score with the reward manager, place on the last token.

Used by both the training step and validation, so both score exactly the same way. A multi-turn episode's
response holds the environment's inserted tokens too (attended, not trained): the scorer reads the whole
response, verl's ``solution_str``, and the reward goes on the last token the model generated. The episode's
tool rewards and interaction scores (``turn_rewards``) are added: summed onto that token, or left on the
token of each turn (``multi_turn.turn_rewards=turn_end``); either way they count in the episode's score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maxrl.data.batch import Batch
from maxrl.rewards.failures import RewardError
from maxrl.rewards.overlong import OverlongBuffer
from maxrl.utils.atomic import write_text_atomic


@dataclass
class Scored:
    """The reward manager's verdict on a batch of samples, with the decoded texts it judged."""

    scores: np.ndarray  # [N] float
    extras: dict[str, np.ndarray]  # per-sample scorer outputs besides the score (acc, pred, optimal, ...)
    metrics: dict[str, float]  # the manager's counters (timeouts, errors, ...)
    responses: list[str]
    token_level_scores: torch.Tensor  # [N, R]: the score on the last valid response token, 0 elsewhere


def response_lengths(batch: Batch) -> torch.Tensor:
    """Real response tokens per row (the model's and, in an episode, the environment's)."""
    return batch["attention_mask"][:, -batch["responses"].shape[1]:].sum(dim=-1).long()


def last_generated_positions(response_mask: torch.Tensor) -> torch.Tensor:
    """Per row, the column of the last token the model generated (-1 for a row without any)."""
    columns = torch.arange(response_mask.shape[1], device=response_mask.device)
    return torch.where(response_mask.bool(), columns, -1).max(dim=-1).values


def decode_responses(batch: Batch, tokenizer) -> list[str]:
    """Each response's valid tokens as text, special tokens (eos, pad) dropped."""
    lengths = response_lengths(batch).tolist()
    return [tokenizer.decode(row[:length].tolist(), skip_special_tokens=True) for row, length in zip(batch["responses"], lengths)]


def decode_prompts(batch: Batch, tokenizer) -> list[str]:
    """Each prompt's tokens (left padding removed) as text."""
    prompt_mask = batch["attention_mask"][:, : batch["prompts"].shape[1]].bool()
    return [tokenizer.decode(row[mask].tolist()) for row, mask in zip(batch["prompts"], prompt_mask)]


def score_batch(batch: Batch, tokenizer, reward_manager, turn_rewards: str = "last_token") -> Scored:
    """Score every sample of a generated batch with the run's reward manager, plus an episode's
    ``turn_rewards`` placed as `turn_rewards` says. A ``RewardError`` (an invalid reward, too many failures)
    stops the run, naming the sample's prompt index as well."""
    texts = decode_responses(batch, tokenizer)
    lengths = response_lengths(batch)
    try:
        result = reward_manager.score(
            batch["data_source"], texts, batch["ground_truth"], batch["extra_info"], lengths.numpy()
        )
    except RewardError as error:
        if error.item is None or "index" not in batch:
            raise
        row = batch["index"][error.item]
        raise RewardError(
            f"{error}\n(that sample's prompt has index {row!r} in its data file: extra_info.index, or the row "
            "number when the row has none)",
            error.item,
        ) from None
    scores = np.asarray(result.scores, dtype=np.float64)
    token_level_scores = torch.zeros(batch["responses"].shape, dtype=torch.float32)
    last = last_generated_positions(batch["response_mask"])
    rows = torch.nonzero(last >= 0).squeeze(-1)
    token_level_scores[rows, last[rows]] = torch.as_tensor(scores, dtype=torch.float32)[rows]
    if "turn_rewards" in batch:
        episode_rewards = batch["turn_rewards"].float()
        if turn_rewards == "last_token":
            token_level_scores[rows, last[rows]] += episode_rewards.sum(dim=-1)[rows]
        else:
            token_level_scores += episode_rewards
        scores = scores + episode_rewards.sum(dim=-1).double().numpy()
    return Scored(scores, dict(result.extras), dict(result.metrics), texts, token_level_scores)


def write_samples(path: Path, prompts: list[str], scored: Scored, uids: Any, limit: int | None = None) -> None:
    """Decoded samples as JSON lines (prompt, response, score, uid), e.g. for `trainer.rollout_data_dir`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = len(prompts) if limit is None else min(limit, len(prompts))
    rows = (
        {"uid": str(uids[i]), "prompt": prompts[i], "response": scored.responses[i], "score": float(scored.scores[i])}
        for i in range(count)
    )
    write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def with_overlong_penalty(batch: Batch, scored: Scored, shaping: OverlongBuffer) -> Scored:
    """`scored` with DAPO's length penalty added to each training reward (on the last generated token) and
    reported as the extra ``overlong_penalty``; the scorer's own scores, and so the successes, are unchanged."""
    penalty = shaping.penalty(response_lengths(batch).numpy())
    token_level_scores = scored.token_level_scores.clone()
    last = last_generated_positions(batch["response_mask"])
    rows = torch.nonzero(last >= 0).squeeze(-1)
    token_level_scores[rows, last[rows]] += torch.as_tensor(penalty, dtype=torch.float32)[rows]
    extras = scored.extras | {"overlong_penalty": penalty}
    return Scored(scored.scores, extras, scored.metrics, scored.responses, token_level_scores)
