"""What every rollout backend shares: sampling parameters, the backend interface, the output layout.

A backend turns left-padded prompts into ``n`` samples per prompt. It only produces response tokens,
their mask and the sampler's log-probs; `assemble_rollout` builds the rest of the per-sample fields the
same way for every backend, so position ids always continue the prompt's (which `compute_log_prob`
relies on) whichever engine generated the tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from omegaconf import DictConfig

from maxrl.data.batch import Batch

__all__ = [
    "PROMPT_FIELDS",
    "RolloutBackend",
    "SamplingParams",
    "assemble_rollout",
    "sampling_params_from_config",
    "stop_token_ids",
]

PROMPT_FIELDS = ("input_ids", "attention_mask", "position_ids")
"""Tensor fields of a prompt batch (left-padded, ``[B, P]``)."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: ``n`` responses per prompt of at most ``max_tokens`` tokens each.

    ``top_k <= 0`` and ``top_p >= 1`` switch those filters off; ``do_sample=False`` is greedy decoding.
    Generation of a sample stops after any of ``stop_token_ids`` (the token itself is part of the response).
    ``seed`` makes the draw reproducible; ``None`` continues the backend's own random stream.
    """

    n: int = 1
    max_tokens: int = 16
    do_sample: bool = True
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    stop_token_ids: tuple[int, ...] = ()
    seed: int | None = None

    def __post_init__(self):
        if self.n < 1 or self.max_tokens < 1:
            raise ValueError(
                f"sampling needs n >= 1 and max_tokens >= 1, got n={self.n}, max_tokens={self.max_tokens}"
            )
        if self.do_sample and self.temperature <= 0:
            raise ValueError(
                f"temperature={self.temperature} with do_sample=true: sampling needs a positive temperature "
                "(set do_sample=false for greedy decoding)"
            )
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p}: must lie in (0, 1]")


class RolloutBackend(Protocol):
    """The interface of a generation engine living inside an `ActorRolloutRefWorker`."""

    def generate(self, prompts: Batch, sampling: SamplingParams) -> Batch:
        """``len(prompts) * sampling.n`` rows (each prompt's samples adjacent) with the fields of
        `assemble_rollout`: prompts, responses, response_mask, input_ids, attention_mask, position_ids,
        rollout_log_probs."""

    def sync_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load the actor's full (unsharded) parameters, given under their Hugging Face names."""

    def sleep(self) -> None:
        """Release memory between generations (no-op where meaningless)."""

    def wake(self) -> None:
        """Take back what `sleep` released, before the next sync or generation."""


def sampling_params_from_config(
    rollout: DictConfig, stop_ids: Iterable[int], validate: bool = False, seed: int | None = None
) -> SamplingParams:
    """Sampling for training (``rollout.*``) or validation (``rollout.val_kwargs.*``)."""
    source = rollout.val_kwargs if validate else rollout
    return SamplingParams(
        n=int(source.n),
        max_tokens=int(rollout.response_length),
        do_sample=bool(source.do_sample),
        temperature=float(source.temperature),
        top_p=float(source.top_p),
        top_k=int(source.top_k),
        stop_token_ids=() if rollout.ignore_eos else tuple(sorted(set(stop_ids))),
        seed=seed,
    )


def stop_token_ids(model_path: str | Path, tokenizer) -> list[int]:
    """The tokenizer's eos plus every eos id in the model's ``generation_config.json`` (chat models
    often end a turn with a token other than the tokenizer's eos)."""
    ids = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    generation_config = Path(model_path) / "generation_config.json"
    if generation_config.is_file():
        eos = json.loads(generation_config.read_text()).get("eos_token_id")
        ids += [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    if not ids:
        raise ValueError(
            f"no eos token: the tokenizer at {model_path} has no eos_token and generation_config.json names none; "
            "set one so that responses can end"
        )
    return sorted(set(ids))


def assemble_rollout(
    prompts: Batch,
    responses: torch.Tensor,
    response_mask: torch.Tensor,
    rollout_log_probs: torch.Tensor,
    response_attention: torch.Tensor | None = None,
) -> Batch:
    """Per-sample tensors of a rollout, given prompts already repeated to one row per sample.

    ``input_ids = [prompt | response]`` and the response positions continue from the prompt's last position
    one by one (also past the end of the response, where the mask hides them). ``response_mask`` marks the
    tokens the model generated (the ones trained); ``response_attention`` marks every real response token,
    which differs from it in a multi-turn episode, whose inserted environment tokens are attended to but
    not trained (mask holes). ``attention_mask = [prompt mask | response_attention]``.
    """
    prompt_ids, prompt_mask, prompt_positions = (prompts[key] for key in PROMPT_FIELDS)
    steps = torch.arange(1, responses.shape[1] + 1, device=prompt_positions.device)
    response_positions = prompt_positions[:, -1:] + steps
    attends = response_mask if response_attention is None else response_attention
    return Batch(
        {
            "prompts": prompt_ids,
            "responses": responses,
            "response_mask": response_mask.to(prompt_mask.dtype),
            "input_ids": torch.cat([prompt_ids, responses], dim=1),
            "attention_mask": torch.cat([prompt_mask, attends.to(prompt_mask.dtype)], dim=1),
            "position_ids": torch.cat([prompt_positions, response_positions], dim=1),
            "rollout_log_probs": rollout_log_probs.float(),
        }
    )
