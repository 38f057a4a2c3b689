"""Baselines: the same work written directly against PyTorch and Transformers, in one plain process.

Each baseline does what the framework call it is compared with does, and no more: the same model
(a plain Hugging Face model, no sharding), the same batch, the same sampling settings or loss. Every
call returns the work it did, in the unit of its comparison (generated tokens, or all tokens of the
sequences it ran through the model).
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from transformers import AutoModelForCausalLM, GenerationConfig, PreTrainedModel

from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import chunk_sizes
from maxrl.workers.rollout import SamplingParams

__all__ = ["BarePolicyUpdate", "RawGenerate", "bare_log_probs", "load_plain_model"]


def load_plain_model(model_dir: str, dtype: torch.dtype = torch.float32) -> PreTrainedModel:
    """The model as a user would load it, with its generation defaults cleared so that only the
    settings passed to ``generate`` apply (the framework ignores ``generation_config.json`` too)."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.generation_config = GenerationConfig()
    return model


def generated_tokens(new_tokens: torch.Tensor, stop_ids: tuple[int, ...]) -> int:
    """Tokens of each row up to and including its first stop token (all of them if none), summed."""
    length = new_tokens.shape[1]
    if not stop_ids:
        return new_tokens.numel()
    stops = torch.isin(new_tokens, torch.tensor(stop_ids, dtype=new_tokens.dtype))
    first_stop = torch.where(stops.any(dim=1), stops.int().argmax(dim=1) + 1, length)
    return int(first_stop.sum())


class RawGenerate:
    """``model.generate`` on the prompts repeated `sampling.n` times, with `sampling`'s settings."""

    def __init__(self, model: PreTrainedModel, prompts: Batch, sampling: SamplingParams, pad_token_id: int):
        self.model = model.eval()
        samples = prompts.repeat(sampling.n)
        self.input_ids, self.attention_mask = samples["input_ids"], samples["attention_mask"]
        self.stop_ids = tuple(sampling.stop_token_ids)
        self.config = GenerationConfig(
            do_sample=sampling.do_sample,
            temperature=sampling.temperature if sampling.do_sample else None,
            top_k=sampling.top_k if sampling.top_k > 0 else 0,
            top_p=sampling.top_p,
            max_new_tokens=sampling.max_tokens,
            eos_token_id=list(self.stop_ids) or None,
            pad_token_id=pad_token_id,
        )

    @torch.no_grad()
    def __call__(self) -> int:
        output = self.model.generate(
            input_ids=self.input_ids, attention_mask=self.attention_mask, generation_config=self.config
        )
        return generated_tokens(output[:, self.input_ids.shape[1] :], self.stop_ids)


def _response_log_probs_and_logits(
    model: PreTrainedModel, batch: Batch, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs ``[N, R]`` of the responses and the temperature-scaled logits they come from."""
    responses = batch["responses"]
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
        logits_to_keep=responses.shape[1] + 1,
    ).logits[:, :-1].float() / temperature
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, responses[..., None]).squeeze(-1)
    return log_probs, logits


def bare_log_probs(
    model: PreTrainedModel, batch: Batch, temperature: float, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One no-grad forward: the responses' log-probs ``[N, R]`` and, if asked, their entropy ``[N, R]``."""
    model.eval()
    with torch.no_grad():
        log_probs, logits = _response_log_probs_and_logits(model, batch, temperature)
        if not with_entropy:
            return log_probs, None
        probs = torch.softmax(logits, dim=-1)
        return log_probs, torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)


class BarePolicyUpdate:
    """A plain PPO-clip training loop: per mini-batch, forward/backward over micro-batches with the
    token-mean loss normalised by the whole mini-batch, clip the grad norm, AdamW step.

    Optimizer, clip range, grad clip, temperature and batch sizes are read from the same config the
    worker gets (for one worker).
    """

    def __init__(self, model: PreTrainedModel, config: DictConfig):
        actor, optim = config.actor_rollout_ref.actor, config.actor_rollout_ref.actor.optim
        self.model = model
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=float(optim.lr), betas=tuple(optim.betas), weight_decay=float(optim.weight_decay)
        )
        self.clip_low, self.clip_high = float(actor.clip_ratio_low), float(actor.clip_ratio_high)
        self.grad_clip = float(actor.grad_clip)
        self.temperature = float(config.actor_rollout_ref.rollout.temperature)
        self.mini_batch = int(actor.ppo_mini_batch_size) * int(config.actor_rollout_ref.rollout.n)
        self.micro_batch = actor.ppo_micro_batch_size_per_gpu

    def _loss(self, micro: Batch, normalizer: torch.Tensor) -> torch.Tensor:
        log_probs, _ = _response_log_probs_and_logits(self.model, micro, self.temperature)
        ratio = torch.exp(log_probs - micro["old_log_probs"])
        advantages = micro["advantages"]
        clipped = torch.clamp(ratio, 1 - self.clip_low, 1 + self.clip_high)
        per_token = torch.maximum(-advantages * ratio, -advantages * clipped)
        return (per_token * micro["response_mask"]).sum() / normalizer

    def __call__(self, batch: Batch) -> int:
        self.model.train()
        for mini in batch.split(chunk_sizes(len(batch), self.mini_batch)):
            normalizer = mini["response_mask"].sum().clamp(min=1)
            for micro in mini.split(chunk_sizes(len(mini), self.micro_batch)):
                self._loss(micro, normalizer).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return int(batch["attention_mask"].sum())
