"""ReMax's baseline: one greedy response per prompt, scored like the samples; each sample's
``reward_baselines`` is its prompt's greedy score. The trainer runs it only when the estimator declares
the input (`maxrl.config.choices.GREEDY_BASELINES`)."""

from __future__ import annotations

import numpy as np
import torch

from maxrl.data.batch import Batch
from maxrl.trainer.scoring import score_batch

__all__ = ["greedy_baselines", "per_sample"]


def greedy_baselines(workers, prompts: Batch, tokenizer, reward_manager, step: int) -> dict[str, float]:
    """``{uid: score of the prompt's greedy response}``."""
    greedy = workers.generate_sequences(prompts, validate=False, step=step, greedy=True)
    scores = score_batch(greedy, tokenizer, reward_manager).token_level_scores.sum(dim=-1)
    return dict(zip(np.asarray(greedy["uid"]).tolist(), scores.tolist()))


def per_sample(uids, baselines: dict[str, float]) -> torch.Tensor:
    """``[N]`` float32: the baseline of each sample's prompt."""
    return torch.tensor([baselines[uid] for uid in np.asarray(uids).tolist()], dtype=torch.float32)
