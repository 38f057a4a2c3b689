"""`RolloutWorker`: a rollout engine alone, on a pool of its own (``actor_rollout_ref.rollout.placement=separate``).

It is built from the same `Sampler` as the colocated `ActorRolloutRefWorker`, so it samples exactly as that
worker does from the same weights. It holds no actor: the trainer sends it full weights (`load_weights`,
docs/async.md) and every sample is stamped with the policy version it was drawn from. The engine owns its
device, so it never sleeps between generations.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist
from omegaconf import DictConfig

from maxrl.controller.methods import data_parallel, on_all_ranks
from maxrl.data.batch import Batch
from maxrl.workers.fsdp import worker_device
from maxrl.workers.hf_model import load_tokenizer
from maxrl.workers.rollout_sampler import Sampler

__all__ = ["POLICY_VERSION", "RolloutWorker"]

POLICY_VERSION = "policy_version"  # per row: the trainer step whose weights drew the sample (0 = initial)


class RolloutWorker:
    """Generates with the last weights loaded; reports its busy and idle seconds per generation."""

    def __init__(self, config: DictConfig):
        self.config = config
        self.rank = dist.get_rank()
        self.device = worker_device()
        tokenizer = load_tokenizer(config.actor_rollout_ref.model)
        base_seed = int(config.trainer.seed)
        self.sampler = Sampler(config, tokenizer, self.device, self.rank, base_seed)
        self.sampler.engine.wake()
        self.version: int | None = None  # no weights from the trainer yet
        self._idle_since = time.monotonic()

    @on_all_ranks
    def load_weights(self, weights: dict[str, torch.Tensor], version: int) -> float:
        """Load the trainer's full weights (Hugging Face names) as policy `version`; returns the seconds taken."""
        started = time.monotonic()
        self.sampler.engine.sync_weights(weights.items())
        self.version = int(version)
        self._idle_since = time.monotonic()
        return self._idle_since - started

    @on_all_ranks
    def weights(self) -> dict[str, torch.Tensor]:
        """The engine's parameters as CPU tensors (the hf backend; tests compare them with the trainer's)."""
        return {name: p.detach().cpu().clone() for name, p in self.sampler.engine.model.named_parameters()}

    @data_parallel
    def generate_sequences(
        self, prompts: Batch, validate: bool = False, step: int | None = None, greedy: bool = False,
        gen_round: int = 0,
    ) -> Batch:
        """As `ActorRolloutRefWorker.generate_sequences`, plus a ``policy_version`` field per row and this
        rank's ``async/rollout_{idle,busy}_s/rank<r>`` in the meta."""
        if self.version is None:
            raise RuntimeError("generate_sequences: no weights loaded yet; the trainer calls load_weights first")
        started = time.monotonic()
        samples = self.sampler.sample(prompts, validate, step, greedy, dict(prompts.meta), gen_round)
        self._idle_since, idle = time.monotonic(), started - self._idle_since
        versions = torch.full((len(samples),), self.version, dtype=torch.long)
        meta = samples.meta | {
            f"async/rollout_idle_s/rank{self.rank}": idle,
            f"async/rollout_busy_s/rank{self.rank}": self._idle_since - started,
        }
        return Batch({**samples.tensors, POLICY_VERSION: versions}, samples.non_tensors, meta)
