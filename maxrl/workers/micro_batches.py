"""Cutting one rank's rows into micro-batches: by a sample count, or by a token budget (verl's
``use_dynamic_bsz``).

A token budget keeps every forward near the same cost whatever the lengths. A micro-batch's cost is the
number of token positions its forwards compute once padding columns are trimmed
(`maxrl.workers.log_probs.ForwardOptions`):

* one forward over whole rows: ``rows x longest row``;
* with the prompt shared (``share_prompt``): ``distinct prompts x longest prompt`` for the prompt pass plus
  ``rows x longest response`` for the response pass. Counting what this layout really computes lets a
  micro-batch hold more samples, so fewer micro-batches recompute the same prompt;
* better still, when the distinct prompts of the whole batch fit in half the budget, they run in one
  prompt pass before every micro-batch (`ForwardPlan.prompt_once`), and the micro-batches share the rest of
  the budget by ``rows x longest response``: each prompt is computed once per batch.

Rows are sorted by the length that sets the cost (longest first; with a shared prompt, the samples of one
prompt next to each other among equal lengths) and cut where the total cost is least, each micro-batch
charged a share of the budget for its own overhead (`OVERHEAD_SHARE`): sorting puts similar lengths
together, and the cut spends a few more micro-batches where that trims more padding than it costs (on
responses of 8-256 tokens, 8 micro-batches computing 10% fewer positions than the fewest possible, 5). FSDP
gathers parameters in every forward, so every rank must run the same number of micro-batches: the count is
the maximum over ranks, and a rank below it splits its costliest micro-batches. The loss is normalised by the
whole mini-batch, so none of this changes a result (parity tests in
``tests/unit/workers/test_wrk_policy_update.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from maxrl.data.batch import Batch

__all__ = ["ForwardPlan", "MicroBatching", "RowLengths", "distinct_prompts", "token_budget_plan"]


def _max_over_ranks(count: int) -> int:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return count
    value = torch.tensor([count], dtype=torch.long)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return int(value)


def distinct_prompts(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows, inverse)``: one row index per distinct prompt (tokens, mask and positions alike), and each
    sample's distinct-prompt index."""
    prompt_length = batch["input_ids"].shape[1] - batch["responses"].shape[1]
    key = torch.cat([batch[name][:, :prompt_length] for name in ("input_ids", "attention_mask", "position_ids")], 1)
    _, inverse = torch.unique(key, dim=0, return_inverse=True)
    rows = torch.full((int(inverse.max()) + 1,), len(key), dtype=torch.long, device=key.device)
    rows = rows.scatter_reduce(0, inverse, torch.arange(len(key), device=key.device), reduce="amin")
    return rows, inverse


@dataclass(frozen=True)
class RowLengths:
    """Valid tokens per row: its prompt's, its response's, and (for a shared prompt) which prompt it has;
    ``prompt_ids=None`` costs whole rows."""

    prompt: torch.Tensor
    response: torch.Tensor
    prompt_ids: torch.Tensor | None = None

    @classmethod
    def of(cls, batch: Batch, share_prompt: bool = False) -> RowLengths:
        prompt_length = batch["input_ids"].shape[1] - batch["responses"].shape[1]
        mask = batch["attention_mask"].cpu()
        prompt_ids = distinct_prompts(batch)[1].cpu() if share_prompt else None
        return cls(mask[:, :prompt_length].sum(-1), mask[:, prompt_length:].sum(-1), prompt_ids)

    def __len__(self) -> int:
        return len(self.response)

    def order(self) -> list[int]:
        """Rows by decreasing cost-setting length (stable, so a shared prompt's samples stay together)."""
        if self.prompt_ids is None:
            return torch.argsort(self.prompt + self.response, descending=True, stable=True).tolist()
        by_prompt = torch.argsort(self.prompt_ids, stable=True)
        return by_prompt[torch.argsort(self.response[by_prompt], descending=True, stable=True)].tolist()

    def prompt_pass_cost(self) -> int:
        """Token positions of one pass over the distinct prompts (trimmed to the longest)."""
        prompts = len(torch.unique(self.prompt_ids)) if self.prompt_ids is not None else len(self.prompt)
        return prompts * int(self.prompt.max()) if len(self.prompt) else 0

    def cost(self, rows: list[int]) -> int:
        """Token positions the forwards of a micro-batch of `rows` compute."""
        if len(rows) == 0:
            return 0
        index = torch.as_tensor(rows, dtype=torch.long)
        if self.prompt_ids is None:
            return len(index) * int((self.prompt + self.response)[index].max())
        prompts = len(torch.unique(self.prompt_ids[index]))
        return prompts * int(self.prompt[index].max()) + len(index) * int(self.response[index].max())


OVERHEAD_SHARE = 16
"""A micro-batch is charged 1/16 of the budget in token positions beyond the ones it computes: what one
more forward and backward costs besides its tokens. These are estimates, not measurements: on a GPU,
FSDP's gather of every layer's parameters, about a thousand tokens' compute for a 1.5B model at verl's
usual 16-24k budgets; on CPU, Python and dispatch, estimated at some 10 ms (about 60 tokens of the TRL
benchmark's model) from the variable-length update's time at 5 and at 12 micro-batches. More micro-batches pay
when they save more padding than that."""


def _cheapest_cut(lengths: RowLengths, order: list[int], max_tokens: int) -> list[list[int]]:
    """`order` cut into consecutive micro-batches within `max_tokens` (a row costlier than it goes alone) at
    the least total cost, each micro-batch charged ``max_tokens // OVERHEAD_SHARE`` besides its own
    `RowLengths.cost`; among cuts of equal total, the one whose costliest micro-batch is cheapest (so equal
    lengths are spread evenly, not a full micro-batch and a short remainder).

    Dynamic programming over the end of the last micro-batch. `order` puts the cost-setting length first,
    so a micro-batch's longest row is its first and its cost grows as it reaches back."""
    overhead = max_tokens // OVERHEAD_SHARE
    shared = lengths.prompt_ids is not None
    index = torch.tensor(order, dtype=torch.long)  # per-row values as lists: the loops below are hot
    setting = (lengths.response if shared else lengths.prompt + lengths.response)[index].tolist()
    prompt_of = lengths.prompt_ids[index].tolist() if shared else []
    prompt_length = lengths.prompt[index].tolist()
    best: list[tuple[int, int, int]] = [(0, 0, 0)]  # per prefix length: (total, costliest, start of last cut)
    for end in range(1, len(order) + 1):
        prompts: set[int] = set()
        longest_prompt, choice = 0, None
        for start in range(end - 1, -1, -1):
            rows = end - start
            cost = rows * setting[start]
            if shared:
                prompts.add(prompt_of[start])
                longest_prompt = max(longest_prompt, prompt_length[start])
                cost += len(prompts) * longest_prompt
            if cost > max_tokens and rows > 1:
                break
            total, costliest, _ = best[start]
            candidate = (total + cost + overhead, max(costliest, cost), start)
            choice = candidate if choice is None or candidate[:2] < choice[:2] else choice
        best.append(choice)
    cuts, end = [], len(order)
    while end:
        start = best[end][2]
        cuts.append(order[start:end])
        end = start
    return cuts[::-1]


def token_budget_plan(lengths: RowLengths, max_tokens: int, min_count: int = 1) -> list[torch.Tensor]:
    """Row indices of micro-batches whose `RowLengths.cost` is at most `max_tokens` (a row costlier than the
    budget goes alone), costliest first: the cheapest cut of the sorted rows (`_cheapest_cut`), with at
    least `min_count` micro-batches (when there are that many rows; other ranks may need more)."""
    chunks = _cheapest_cut(lengths, lengths.order(), max(max_tokens, 1))
    while len(chunks) < min(min_count, len(lengths)):  # other ranks need more: halve the costliest
        largest = max(range(len(chunks)), key=lambda i: (lengths.cost(chunks[i]), len(chunks[i]), -i))
        chunk = chunks.pop(largest)
        half = (len(chunk) + 1) // 2
        chunks[largest:largest] = [chunk[:half], chunk[half:]]
    return [torch.tensor(chunk, dtype=torch.long) for chunk in chunks]


@dataclass(frozen=True)
class ForwardPlan:
    """How one batch's forwards run: `micro_batches` (row indices, together every row once), and whether the
    batch's distinct prompts run in one prompt pass before them (`prompt_once`; then each micro-batch's
    forward covers responses only)."""

    micro_batches: list[torch.Tensor]
    prompt_once: bool = False


@dataclass(frozen=True)
class MicroBatching:
    """At most `max_samples` rows per micro-batch (``None`` = all), or, when `max_tokens` is set, the
    token-budget plan above (then `max_samples` is ignored)."""

    max_samples: int | None = None
    max_tokens: int | None = None

    def plan(self, batch: Batch) -> list[torch.Tensor]:
        """The row indices of each micro-batch of `batch` for forwards over whole rows."""
        return self.forward_plan(batch).micro_batches

    def forward_plan(self, batch: Batch, share_prompt: bool = False) -> ForwardPlan:
        """The micro-batches of `batch`, costed for its forward layout (`share_prompt` as in
        `maxrl.workers.log_probs.ForwardOptions`).

        With a token budget and a shared prompt, the distinct prompts of the whole batch run in one pass
        when it costs at most half the budget on every rank (``prompt_once``): each prompt is then computed
        once per batch instead of once per micro-batch that holds one of its samples, and the micro-batches
        split the rest of the budget by response tokens alone."""
        if self.max_tokens is None:
            return ForwardPlan(list(torch.arange(len(batch)).split(self.max_samples or max(len(batch), 1))))
        lengths = RowLengths.of(batch, share_prompt)
        max_tokens, prompt_once = self.max_tokens, False
        if share_prompt:
            prompt_cost = _max_over_ranks(lengths.prompt_pass_cost())  # so that every rank decides alike
            prompt_once = prompt_cost <= self.max_tokens // 2
            if prompt_once:
                lengths = RowLengths(torch.zeros_like(lengths.prompt), lengths.response)
                max_tokens = self.max_tokens - prompt_cost
        local = token_budget_plan(lengths, max_tokens)
        count = _max_over_ranks(len(local))
        return ForwardPlan(local if count == len(local) else token_budget_plan(lengths, max_tokens, count), prompt_once)
