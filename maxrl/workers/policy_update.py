"""One `update_actor` call: the policy loss of each micro-batch, run by the shared update loop
(`maxrl.workers.update_loop`, which explains why micro-batching and rank count do not change the result).

On-policy updates without ``old_log_probs``: when the whole update is one optimizer step (one epoch, one
mini-batch), the policy that sampled is the policy being differentiated, so ``log pi_old`` is the update's
own ``log pi_theta`` detached: the ratio is exactly 1 and its gradient is ``grad log pi_theta``. The
trainer then skips its separate old-log-prob pass (``actor.recompute_old_log_prob=auto``) and sends no
``old_log_probs``; any other shape of update needs them and is refused. The sampler-vs-trainer gap
means (``training/rollout_*``, which the pass would have given) then come from this forward.

Rollout correction (``algorithm.rollout_correction``, `maxrl.algorithms.rollout_correction`) weighs each
token's policy loss by pi_old / pi_rollout from ``rollout_log_probs`` and whichever ``log pi_old`` the loss
uses, so it works with or without the old-log-prob pass. The weights leave the normaliser as it is: it is
fixed before the first micro-batch, when the skipped pass's ``log pi_old`` is not yet known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from omegaconf import DictConfig, OmegaConf

from maxrl.algorithms import (
    RolloutCorrection,
    SamplingDistribution,
    agg_loss,
    compute_policy_loss,
    kl_penalty,
)
from maxrl.algorithms.masked import masked_sum
from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import chunk_sizes
from maxrl.workers.log_probs import BatchForwards, ForwardOptions
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.rollout.sampling import sampling_distribution
from maxrl.workers.update_loop import loss_mask, run_update

__all__ = ["PolicyLoss", "update_policy"]

_CLIP_KEYS = ("clip_ratio", "clip_ratio_low", "clip_ratio_high", "clip_ratio_c")
OLD_LOG_PROBS = "old_log_probs"
ROLLOUT_LOG_PROBS = "rollout_log_probs"


@dataclass(frozen=True)
class PolicyLoss:
    """The loss terms of ``actor_rollout_ref.actor.*``: policy loss, entropy bonus, KL to the reference;
    and ``algorithm.rollout_correction``, the sampler-vs-trainer weights on the policy loss."""

    loss_mode: str = "vanilla"
    loss_agg_mode: str = "token-mean"
    clip: dict = field(default_factory=dict)
    entropy_coeff: float = 0.0
    use_kl_loss: bool = False
    kl_loss_coef: float = 0.0
    kl_loss_type: str = "low_var_kl"
    distribution: SamplingDistribution = SamplingDistribution()
    forward: ForwardOptions = ForwardOptions()
    rollout_correction: RolloutCorrection = RolloutCorrection()

    @classmethod
    def from_config(cls, config: DictConfig) -> PolicyLoss:
        actor = config.actor_rollout_ref.actor
        policy_loss = OmegaConf.to_container(actor.policy_loss, resolve=True)
        return cls(
            loss_mode=policy_loss.pop("loss_mode"),
            loss_agg_mode=actor.loss_agg_mode,
            clip={**{k: actor[k] for k in _CLIP_KEYS if actor[k] is not None}, **policy_loss},
            entropy_coeff=float(actor.entropy_coeff),
            use_kl_loss=bool(actor.use_kl_loss),
            kl_loss_coef=float(actor.kl_loss_coef),
            kl_loss_type=actor.kl_loss_type,
            distribution=sampling_distribution(config.actor_rollout_ref.rollout),
            forward=ForwardOptions.from_config(config),
            rollout_correction=RolloutCorrection.from_config(config.algorithm.rollout_correction),
        )


def _micro_batch_loss(
    forwards: BatchForwards, rows: torch.Tensor, micro: Batch, normalizer: torch.Tensor, spec: PolicyLoss
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """This micro-batch's share of the mini-batch loss, and token-weighted sums of its statistics."""
    mask = loss_mask(micro)
    log_prob, entropy = forwards.log_probs(rows, micro, with_entropy=True, entropy_grad=spec.entropy_coeff != 0)
    old_log_prob = micro[OLD_LOG_PROBS] if OLD_LOG_PROBS in micro else log_prob.detach()
    token_weights, correction_metrics = None, {}
    if spec.rollout_correction.enabled:
        correction = spec.rollout_correction(old_log_prob, micro[ROLLOUT_LOG_PROBS], mask)
        token_weights, correction_metrics = correction.weights, correction.metrics
    pg_loss, pg_metrics = compute_policy_loss(
        spec.loss_mode,
        old_log_prob,
        log_prob,
        micro["advantages"],
        mask,
        spec.loss_agg_mode,
        normalizer,
        token_weights=token_weights,
        **spec.clip,
    )
    loss = pg_loss
    if spec.entropy_coeff != 0:
        loss = loss - spec.entropy_coeff * agg_loss(entropy, mask, spec.loss_agg_mode, normalizer)
    tokens = mask.sum().float()
    stats = {"pg_loss": pg_loss.detach(), "tokens": tokens, "entropy": masked_sum(entropy.detach(), mask)}
    means = pg_metrics | correction_metrics
    stats.update({name: value.detach().float() * tokens for name, value in means.items()})
    if OLD_LOG_PROBS not in micro and ROLLOUT_LOG_PROBS in micro:
        stats |= _sampler_gap_sums(micro[ROLLOUT_LOG_PROBS], log_prob.detach(), mask)
    if spec.use_kl_loss:
        kl = agg_loss(
            kl_penalty(log_prob, micro["ref_log_prob"], spec.kl_loss_type),
            mask,
            spec.loss_agg_mode,
            normalizer,
        )
        loss = loss + spec.kl_loss_coef * kl
        stats["kl_loss"] = kl.detach()
    return loss, stats


def _sampler_gap_sums(
    rollout_log_probs: torch.Tensor, log_prob: torch.Tensor, mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Token sums behind the means of `maxrl.trainer.metrics.rollout_mismatch_metrics` (same names), for
    an update that stands in for the old-log-prob pass; its max and std need the pass itself."""
    rollout, actor = rollout_log_probs.float(), log_prob.float()
    return {
        "training/rollout_probs_diff_mean": masked_sum((rollout.exp() - actor.exp()).abs(), mask),
        "training/rollout_log_probs_diff_mean": masked_sum((rollout - actor).abs(), mask),
        "training/rollout_actor_kl": masked_sum(rollout - actor, mask),
    }


def update_policy(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    spec: PolicyLoss,
    mini_batch_per_device: int,
    micro_batching: MicroBatching,
    ppo_epochs: int = 1,
    grad_clip: float | None = None,
    scaler=None,
) -> dict[str, float]:
    """Optimizer steps over this rank's share of the update batch; returns metrics equal on every rank.

    The batch must be arranged so that mini-batch ``k`` of every rank holds this rank's slice of global
    mini-batch ``k`` (see `maxrl.workers.batch_sizes.update_order`). All ranks hold equally many rows.
    """
    mini_batches = chunk_sizes(len(batch), mini_batch_per_device)
    if OLD_LOG_PROBS not in batch and (ppo_epochs != 1 or len(mini_batches) != 1):
        raise ValueError(
            f"update_policy: the batch has no {OLD_LOG_PROBS!r}, which is only exact for a single optimizer "
            f"step, but this update makes {ppo_epochs} epoch(s) x {len(mini_batches)} mini-batch(es); compute "
            "them first (actor_rollout_ref.actor.recompute_old_log_prob=always)"
        )
    if spec.rollout_correction.enabled and ROLLOUT_LOG_PROBS not in batch:
        raise ValueError(f"update_policy: algorithm.rollout_correction needs the sampler's "
                         f"{ROLLOUT_LOG_PROBS!r}, which this batch lacks")

    def micro_losses(mini: Batch, normalizer: torch.Tensor):
        forwards = BatchForwards(model, mini, micro_batching, spec.forward, spec.distribution)
        for rows, micro in forwards:
            yield _micro_batch_loss(forwards, rows, micro, normalizer, spec)
        forwards.finish()  # the gradients of a mini-batch-wide prompt pass, once all are collected

    means, skipped = run_update(
        model, optimizer, batch, micro_losses, loss_agg_mode=spec.loss_agg_mode, losses=frozenset({"pg_loss", "kl_loss"}),
        mini_batch_per_device=mini_batch_per_device, ppo_epochs=ppo_epochs, grad_clip=grad_clip, scaler=scaler,
    )
    metrics = {name if "/" in name else f"actor/{name}": value for name, value in means.items()}
    metrics["actor/skipped_steps"] = float(skipped)
    return metrics
