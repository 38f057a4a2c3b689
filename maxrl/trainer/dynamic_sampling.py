"""Batches that carry signal: DAPO's dynamic sampling (verl's ``algorithm.filter_groups``) and the zero-signal
accounting of every step.

A group whose n samples share one value of the filter metric gets zero advantage under MaxRL, GRPO and RLOO:
it costs a generation, the log-prob passes and an update, and teaches nothing. With ``filter_groups.enable``
a step draws rounds of ``data.gen_batch_size`` prompts (one data-loader batch each, so a checkpoint's loader
state says exactly where the next step starts), keeps the complete groups whose metric varies, and stops
once ``data.train_batch_size`` groups are kept; the surplus (the last kept groups of the last round) is
dropped. ``max_num_gen_batches`` rounds without a full batch stop the run.

Every step, filtering or not, reports how its generated groups split (``batch/groups_*_frac``): no sample
succeeds (all-fail), every sample succeeds (all-pass), or mixed; the rounds drawn (also verl's
``train/num_gen_batches``) and the samples generated per kept group.

A group of fewer than n samples (one was lost) is never trained on silently: filtering drops it and counts
it (``batch/groups_incomplete``); without filtering the group estimators refuse it, naming its uid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from maxrl.algorithms.grouping import GroupIndex
from maxrl.data.batch import Batch
from maxrl.trainer.scoring import Scored
from maxrl.trainer.val_metrics import success_of

FILTER_KEY = "algorithm.filter_groups"
BUILT_IN_METRICS = ("acc", "score", "seq_reward")


@dataclass(frozen=True)
class FilterGroups:
    """``algorithm.filter_groups``: whether to filter, on which per-sample value, and how many rounds a step may draw."""

    enable: bool = False
    metric: str = "acc"
    max_num_gen_batches: int = 0  # 0 = no limit

    @classmethod
    def from_config(cls, section) -> FilterGroups:
        return cls(bool(section.enable), str(section.metric), int(section.max_num_gen_batches))


@dataclass
class Round:
    """One generation round of a step: its prompts and their samples, scored (``token_level_scores``)."""

    prompts: Batch
    samples: Batch
    scored: Scored


def metric_values(metric: str, scored: Scored, samples: Batch) -> np.ndarray:
    """Per sample, the value whose spread within a group decides whether the group is kept: ``acc`` the success
    (the scorer's ``acc`` when it reports one, else score > 0.5), ``score`` the scorer's score, ``seq_reward``
    the sequence's training reward (``token_level_scores`` summed: with turn rewards and the overlong penalty),
    any other name a numeric field the scorer returns besides the score."""
    if metric == "acc":
        return success_of(scored.scores, scored.extras).astype(np.float64)
    if metric == "score":
        return np.asarray(scored.scores, dtype=np.float64)
    if metric == "seq_reward":
        return samples["token_level_scores"].sum(dim=-1).double().numpy()
    values = np.asarray(scored.extras.get(metric, []))
    if metric not in scored.extras or values.dtype.kind not in "biuf":
        numeric = sorted(name for name, extra in scored.extras.items() if np.asarray(extra).dtype.kind in "biuf")
        raise ValueError(
            f"{FILTER_KEY}.metric={metric!r} is neither one of {list(BUILT_IN_METRICS)} nor a numeric field the "
            f"scorer returns (it returns {numeric or 'none'}); choose one of those"
        )
    return values.astype(np.float64)


def _group_extremes(groups: GroupIndex, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[B] -> per-group (min, max)."""
    empty = values.new_zeros(groups.num_groups)
    low = empty.scatter_reduce(0, groups.index, values, "amin", include_self=False)
    high = empty.scatter_reduce(0, groups.index, values, "amax", include_self=False)
    return low, high


@dataclass
class Census:
    """How the groups generated in one step split, over all its rounds."""

    rounds: int = 0
    samples: int = 0
    groups: int = 0
    all_fail: int = 0
    all_pass: int = 0
    mixed: int = 0
    incomplete: int = 0
    zero_spread: int = 0  # complete groups whose filter metric does not vary
    kept: int = 0

    def fractions(self) -> dict[str, float]:
        total = max(self.groups, 1)
        return {name: getattr(self, name) / total for name in ("all_fail", "all_pass", "mixed", "incomplete")}

    def metrics(self) -> dict[str, float]:
        """``batch/*`` for the trackers, with verl's ``train/num_gen_batches``."""
        metrics = {f"batch/groups_{name}_frac": value for name, value in self.fractions().items()}
        metrics |= {
            "batch/groups_generated": float(self.groups),
            "batch/groups_incomplete": float(self.incomplete),
            "batch/groups_zero_spread": float(self.zero_spread),
            "batch/groups_kept": float(self.kept),
            "batch/gen_rounds": float(self.rounds),
            "train/num_gen_batches": float(self.rounds),
            "batch/samples_generated": float(self.samples),
            "batch/samples_per_kept_group": self.samples / max(self.kept, 1),
        }
        return metrics

    def describe(self) -> str:
        shares = ", ".join(f"{name.replace('_', '-')} {value:.0%}" for name, value in self.fractions().items())
        return f"{self.groups} groups generated in {self.rounds} rounds: {shares}"


class GroupCollector:
    """Draws the rounds of a step and keeps the groups that carry signal (all of them without filtering)."""

    def __init__(self, settings: FilterGroups, group_size: int, train_batch_size: int):
        self.settings = settings
        self.group_size = group_size
        self.train_batch_size = train_batch_size

    def collect(self, draw: Callable[[int], Round]) -> tuple[list[Round], Batch, Batch, Census]:
        """Call ``draw(r)`` for rounds r = 0, 1, ... until the batch is full; return every round, the kept
        prompts and samples (in generation order) and the census. Without filtering that is one round, kept whole."""
        census, rounds, kept = Census(), [], []
        while True:
            round_ = draw(census.rounds)
            rounds.append(round_)
            signal = self._census(round_, census)
            if not self.settings.enable:
                census.kept = census.groups
                return rounds, round_.prompts, round_.samples, census
            kept += [(len(rounds) - 1, uid) for uid in signal]
            if len(kept) >= self.train_batch_size:
                break
            limit = self.settings.max_num_gen_batches
            if limit and census.rounds >= limit:
                raise RuntimeError(
                    f"{FILTER_KEY}.max_num_gen_batches={limit} reached with {len(kept)} of data.train_batch_size="
                    f"{self.train_batch_size} groups kept ({census.describe()}; filter metric "
                    f"{self.settings.metric!r}). Raise {FILTER_KEY}.max_num_gen_batches (0 = no limit) or "
                    "data.gen_batch_size, or train on easier or harder prompts"
                )
        kept = kept[: self.train_batch_size]
        census.kept = len(kept)
        prompts = Batch.concat([_rows(r.prompts, {uid for i, uid in kept if i == n}) for n, r in enumerate(rounds)])
        samples = Batch.concat([_rows(r.samples, {uid for i, uid in kept if i == n}) for n, r in enumerate(rounds)])
        return rounds, prompts, _with_meta(samples, rounds[0].samples.meta), census

    def _census(self, round_: Round, census: Census) -> list:
        """Count the round's groups into `census`; return the uids of the complete groups whose metric varies."""
        samples, scored = round_.samples, round_.scored
        groups = GroupIndex.from_ids(samples["uid"])
        success = torch.as_tensor(success_of(scored.scores, scored.extras), dtype=torch.float64)
        low, high = _group_extremes(groups, success)
        complete = groups.sizes == self.group_size
        census.rounds += 1
        census.samples += len(samples)
        census.groups += len(round_.prompts)  # a prompt whose samples were all lost has no row, but counts
        census.incomplete += len(round_.prompts) - int(complete.sum())
        census.all_fail += int((complete & (high == 0)).sum())
        census.all_pass += int((complete & (low == 1)).sum())
        census.mixed += int((complete & (low < high)).sum())
        if not self.settings.enable:
            return []
        values = torch.as_tensor(metric_values(self.settings.metric, scored, samples), dtype=torch.float64)
        low, high = _group_extremes(groups, values)
        census.zero_spread += int((complete & (low == high)).sum())
        return [uid for uid, keep in zip(groups.ids, (complete & (low < high)).tolist()) if keep]


def all_generated(rounds: list[Round]) -> tuple[Batch, Scored]:
    """Every sample of a step's rounds and its verdict, as one batch (for the step's reward metrics)."""
    if len(rounds) == 1:
        return rounds[0].samples, rounds[0].scored
    verdicts = [r.scored for r in rounds]
    extras = {name: np.concatenate([np.asarray(v.extras[name]) for v in verdicts])
              for name in verdicts[0].extras if all(name in v.extras for v in verdicts)}
    metrics = {name: float(sum(v.metrics.get(name, 0.0) for v in verdicts)) for name in verdicts[0].metrics}
    scored = Scored(
        np.concatenate([v.scores for v in verdicts]), extras, metrics, [text for v in verdicts for text in v.responses],
        torch.cat([v.token_level_scores for v in verdicts]),
    )
    samples = Batch.concat([Batch(r.samples.tensors, r.samples.non_tensors) for r in rounds])
    return _with_meta(samples, rounds[0].samples.meta), scored


def _rows(batch: Batch, uids: set) -> Batch:
    """The rows of `batch` whose uid is in `uids`, in order, without the batch's meta (rounds' metas differ)."""
    rows = np.flatnonzero([uid in uids for uid in batch["uid"]])
    selected = batch.reorder(rows)
    return Batch(selected.tensors, selected.non_tensors)


def _with_meta(batch: Batch, meta: dict) -> Batch:
    return Batch(batch.tensors, batch.non_tensors, meta)
