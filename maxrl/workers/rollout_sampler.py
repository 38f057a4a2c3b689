"""`Sampler`: the rollout engine and the seeds it draws with, shared by every worker that generates.

`ActorRolloutRefWorker` (rollout colocated with the actor) and `RolloutWorker` (rollout on its own pool,
docs/async.md) both hold one, so a sample is drawn the same way wherever the engine lives: the draw of
training step s on rank r is a fixed function of (``trainer.seed``, s, r), and the same weights give the
same samples in either placement. With ``rollout.multi_turn.enable`` each sample is an episode of the
agent loop (`maxrl.agents`), which calls the same engine turn by turn.
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import torch
from omegaconf import DictConfig

from maxrl.agents import MultiTurnSettings
from maxrl.agents.loop import AgentLoop
from maxrl.data.batch import Batch
from maxrl.workers.hf_model import pad_token_id
from maxrl.workers.rollout import assemble_rollout, build_rollout, sampling_params_from_config, stop_token_ids
from maxrl.workers.rollout.base import PROMPT_FIELDS

__all__ = ["Sampler", "sampling_seed"]


def sampling_seed(*parts: int) -> int:
    """A 63-bit seed that is a fixed function of `parts` (e.g. base seed, step, rank)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class Sampler:
    """The backend named by ``actor_rollout_ref.rollout.name`` on `device`, seeded per rank."""

    def __init__(self, config: DictConfig, tokenizer, device: torch.device, rank: int, base_seed: int):
        self.config = config
        self.rank = rank
        self.base_seed = base_seed
        self.stop_token_ids = stop_token_ids(config.actor_rollout_ref.model.path, tokenizer)
        self.engine = build_rollout(
            config.actor_rollout_ref.rollout.name,
            config=config,
            tokenizer=tokenizer,
            device=device,
            seed=sampling_seed(base_seed, rank),
        )
        self.agent_loop = None
        multi_turn = config.actor_rollout_ref.rollout.multi_turn
        if multi_turn.enable:
            self.agent_loop = AgentLoop(
                MultiTurnSettings.from_config(multi_turn), tokenizer, bool(config.data.apply_chat_template),
                pad_token_id(tokenizer),
            )
            weakref.finalize(self, self.agent_loop.close)

    def sample(self, prompts: Batch, validate: bool, step: int | None, greedy: bool, meta: dict,
               gen_round: int = 0) -> Batch:
        """``rollout.n`` samples per prompt (``val_kwargs`` when `validate`, one greedy response when
        `greedy`), in prompt order, each carrying its prompt's fields, with `meta` as the batch's meta.
        A step's later generation rounds (dynamic sampling) draw from seeds of their own."""
        seed = None
        if step is not None:
            later_round = (int(gen_round),) if gen_round else ()
            seed = sampling_seed(self.base_seed, int(step), self.rank, int(validate), *later_round)
        sampling = sampling_params_from_config(self.config.actor_rollout_ref.rollout, self.stop_token_ids, validate, seed)
        if greedy:
            sampling = dataclasses.replace(sampling, n=1, do_sample=False)
        samples = self._generate(prompts, sampling).to("cpu")
        carried = prompts.repeat(sampling.n)
        tensors = {k: v for k, v in carried.tensors.items() if k not in samples.tensors.keys()}
        return Batch({**tensors, **samples.tensors}, carried.non_tensors, meta)

    def _generate(self, prompts: Batch, sampling) -> Batch:
        """The engine's samples, or with multi-turn on, the agent loop's episodes in the same layout plus
        ``turn_rewards`` and the episode counters."""
        if self.agent_loop is None:
            return self.engine.generate(prompts, sampling)
        episodes = self.agent_loop.run(prompts, sampling, self.engine.generate)
        samples = assemble_rollout(
            prompts.select(PROMPT_FIELDS).repeat(sampling.n).to("cpu"), episodes.responses, episodes.trained,
            episodes.log_probs, episodes.attends,
        )
        return samples.union(Batch({"turn_rewards": episodes.turn_rewards, **episodes.fields}))
