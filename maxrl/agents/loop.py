"""The agent loop: N episodes per prompt, advanced together turn by turn on a rollout backend.

An episode is a loop around the backend, not a new backend. Turn 1 generates the N samples of every prompt
in one call (so each prompt's computation is shared, as in the single-turn rollout); every later turn
generates the next assistant turn of all still-active episodes in one batched call, each episode's
context being its prompt plus its response so far as token ids. After each turn the `Environment` answers
(tool results, interaction replies); its messages are tokenized on their own (`TurnRenderer`) and appended
with mask 0. An episode ends when nothing answers its turn, at ``max_assistant_turns`` or
``max_user_turns``, or when the response budget (the backend's ``max_tokens``, ``data.max_response_length``,
over all turns) is spent, in which case it is flagged truncated.

The result has the single-turn rollout's layout (`maxrl.workers.rollout.base.assemble_rollout`'s fields
as plain tensors) plus the episodes' counters (`EPISODE_FIELDS`), so nothing after the generate phase
needs to know how the response was made: every later phase reads the mask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from maxrl.agents.environment import Environment
from maxrl.agents.episode import Episode, episode_fields
from maxrl.agents.settings import MultiTurnSettings
from maxrl.agents.turns import TurnRenderer
from maxrl.data.batch import Batch

__all__ = ["AgentLoop", "EpisodeTensors"]

PROMPT_FIELDS = ("input_ids", "attention_mask", "position_ids")


@dataclasses.dataclass
class EpisodeTensors:
    """The episodes of one call as right-padded ``[N, R]`` tensors: `responses`, `trained` (the loss mask:
    1 on model tokens), `attends` (1 on every response token, model or inserted), `log_probs` (the sampler's,
    0 on inserted tokens), `turn_rewards` (tool and interaction rewards on the token of the model turn they
    answer), and the per-episode counters in `fields`."""

    responses: torch.Tensor
    trained: torch.Tensor
    attends: torch.Tensor
    log_probs: torch.Tensor
    turn_rewards: torch.Tensor
    fields: dict[str, torch.Tensor]


def turn_seed(seed: int | None, turn: int) -> int | None:
    """The seed of turn `turn` of a draw seeded with `seed` (turn 1 keeps `seed` itself)."""
    if seed is None or turn == 1:
        return seed
    return int(np.random.SeedSequence([int(seed), turn]).generate_state(1, np.uint64)[0] >> 1)


def left_padded(contexts: list[list[int]], pad_id: int) -> Batch:
    """Token lists as a left-padded prompt batch whose positions count the real tokens from 0."""
    width = max(len(ids) for ids in contexts)
    input_ids = torch.full((len(contexts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(contexts), width), dtype=torch.long)
    for row, ids in enumerate(contexts):
        input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids):] = 1
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return Batch({"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids})


class AgentLoop:
    """Runs episodes with a backend's ``generate(prompts, sampling) -> Batch`` (hf or vllm)."""

    def __init__(self, settings: MultiTurnSettings, tokenizer, apply_chat_template: bool, pad_token_id: int):
        self.settings = settings
        self.environment = Environment(settings)
        self.renderer = TurnRenderer(tokenizer, apply_chat_template, self.environment.tool_schemas)
        self.tokenizer = tokenizer
        self.pad_token_id = pad_token_id
        # A special stop token (``<|im_end|>``) closes the message and is not part of its text; a stop word
        # that is content (the maze's ``DONE``) stays in it.
        self._special_ids = set(tokenizer.all_special_ids)

    def close(self) -> None:
        self.environment.close()

    def run(self, prompts: Batch, sampling: Any, generate: Callable[[Batch, Any], Batch]) -> EpisodeTensors:
        """``sampling.n`` episodes per prompt row (each prompt's adjacent), ``sampling.max_tokens`` response
        tokens each at most; `prompts` carries ``raw_prompt`` and ``extra_info`` per row."""
        episodes = self._start(prompts, sampling.n)
        budget = sampling.max_tokens
        first = generate(prompts.select(PROMPT_FIELDS), sampling)
        self._add_turns(episodes, first, sampling.stop_token_ids, budget)
        turn = 1
        while active := [e for e in episodes if not e.done]:
            turn += 1
            remaining = max(budget - len(e.response_ids) for e in active)
            contexts = left_padded([e.context for e in active], self.pad_token_id)
            step = dataclasses.replace(sampling, n=1, max_tokens=remaining, seed=turn_seed(sampling.seed, turn))
            self._add_turns(active, generate(contexts, step), sampling.stop_token_ids, budget)
        self.environment.finish(episodes)
        return self._tensors(episodes, budget)

    def _start(self, prompts: Batch, n: int) -> list[Episode]:
        episodes, interaction_kwargs = [], []
        for row in range(len(prompts)):
            prompt_ids = prompts["input_ids"][row][prompts["attention_mask"][row].bool()].tolist()
            extra_info = prompts["extra_info"][row] if "extra_info" in prompts else {}
            interaction, kwargs = self.environment.interaction_of(extra_info)
            for _ in range(n):
                episodes.append(Episode(
                    prompt_ids, [dict(message) for message in prompts["raw_prompt"][row]],
                    tools_kwargs=dict((extra_info or {}).get("tools_kwargs") or {}), interaction=interaction,
                ))
                interaction_kwargs.append(kwargs)
        self.environment.start(episodes, interaction_kwargs)
        return episodes

    def _add_turns(self, episodes: list[Episode], samples: Batch, stop_ids, budget: int) -> None:
        """Append each episode's new model turn (cut to its budget), then the environment's answers."""
        stop_ids = set(stop_ids)
        waiting = []
        for row, episode in enumerate(episodes):
            length = int(samples["response_mask"][row].sum())
            ids = samples["responses"][row, :length].tolist()
            room = budget - len(episode.response_ids)
            stopped = bool(ids) and ids[-1] in stop_ids and length <= room
            episode.add_model_turn(ids[:room], samples["rollout_log_probs"][row, :min(length, room)].tolist())
            content = self.tokenizer.decode(ids[:room][:-1] if stopped and ids[-1] in self._special_ids else ids[:room],
                                            skip_special_tokens=False)
            episode.messages.append({"role": "assistant", "content": content})
            if not stopped or len(episode.response_ids) >= budget:
                episode.truncated, episode.done = not stopped, True
            elif self._at_turn_limit(episode):
                episode.done = True
            else:
                waiting.append((episode, ids[-1]))
        answers = self.environment.respond([episode for episode, _ in waiting])
        for (episode, stop_token), messages in zip(waiting, answers):
            self._add_answer(episode, messages, stop_token, budget)

    def _at_turn_limit(self, episode: Episode) -> bool:
        limits = self.settings
        return bool(
            (limits.max_assistant_turns and episode.assistant_turns >= limits.max_assistant_turns)
            or (limits.max_user_turns and episode.user_turns >= limits.max_user_turns)
        )

    def _add_answer(self, episode: Episode, messages: list[dict] | None, stop_token: int, budget: int) -> None:
        """Insert the environment's messages (cut to the budget, which then ends the episode as truncated)."""
        if messages is None:
            episode.done = True
            return
        episode.messages += messages
        ids = self.renderer.inserted_ids(messages, stop_token)
        room = budget - len(episode.response_ids)
        episode.add_inserted(ids[:room])
        episode.user_turns += 1
        if len(ids) >= room:
            episode.truncated, episode.done = True, True

    def _tensors(self, episodes: list[Episode], budget: int) -> EpisodeTensors:
        rows = len(episodes)
        responses = torch.full((rows, budget), self.pad_token_id, dtype=torch.long)
        trained = torch.zeros((rows, budget), dtype=torch.long)
        attends = torch.zeros((rows, budget), dtype=torch.long)
        log_probs = torch.zeros((rows, budget), dtype=torch.float32)
        turn_rewards = torch.zeros((rows, budget), dtype=torch.float32)
        for row, episode in enumerate(episodes):
            length = len(episode.response_ids)
            responses[row, :length] = torch.tensor(episode.response_ids, dtype=torch.long)
            trained[row, :length] = torch.tensor(episode.trained, dtype=torch.long)
            attends[row, :length] = 1
            log_probs[row, :length] = torch.tensor(episode.log_probs, dtype=torch.float32)
            for position, reward in episode.turn_rewards.items():
                turn_rewards[row, position] = reward
        return EpisodeTensors(responses, trained, attends, log_probs, turn_rewards, episode_fields(episodes))
