"""Whether a step needs the separate old-log-prob pass, decided once per run.

PPO's ratio ``exp(log pi_theta - log pi_old)`` needs ``log pi_old`` of every sampled token; verl recomputes
it with the actor in its own forward pass just before the update. When the whole update is a single
optimizer step (``ppo_epochs=1`` and ``ppo_mini_batch_size = data.train_batch_size``, the setting of every
MaxRL experiment), the actor has not changed between that pass and the update's forward, so ``pi_old`` is
``pi_theta`` itself: the update takes ``log pi_theta`` detached as ``log pi_old`` (ratio exactly 1, gradient
``grad log pi_theta``, clipping inert) and the pass, a full forward over the batch, is skipped.

The pass stays when anything differs: more epochs or mini-batches (later optimizer steps are off-policy),
an in-reward KL or an estimator that reads ``old_log_probs`` before the update, or
``actor_rollout_ref.actor.recompute_old_log_prob=always``. Without the pass, the update reports the means
of the sampler-vs-trainer ``training/rollout_*`` metrics; their max and std need the pass.
"""

from __future__ import annotations

from omegaconf import DictConfig

from maxrl.algorithms import get_advantage_spec
from maxrl.workers.batch_sizes import BatchSizes

__all__ = ["old_log_prob_pass"]


def old_log_prob_pass(config: DictConfig, batch_sizes: BatchSizes) -> tuple[bool, str]:
    """``(needed, why)``: whether each step runs the old-log-prob pass, and the reason (for the log).

    ``actor_rollout_ref.actor.recompute_old_log_prob`` is ``auto`` (skip the pass when it is redundant) or
    ``always``.
    """
    actor = config.actor_rollout_ref.actor
    if actor.recompute_old_log_prob == "always":
        return True, "actor_rollout_ref.actor.recompute_old_log_prob=always"
    reasons = []
    if int(actor.ppo_epochs) != 1:
        reasons.append(f"actor_rollout_ref.actor.ppo_epochs={actor.ppo_epochs}")
    if batch_sizes.num_mini_batches != 1:
        reasons.append(f"{batch_sizes.num_mini_batches} mini-batches per step "
                       "(actor_rollout_ref.actor.ppo_mini_batch_size < data.train_batch_size)")
    if config.algorithm.use_kl_in_reward:
        reasons.append("algorithm.use_kl_in_reward reads them")
    estimator = config.algorithm.adv_estimator
    if "old_log_probs" in get_advantage_spec(estimator).extra_inputs:
        reasons.append(f"the {estimator} estimator reads them")
    if reasons:
        return True, "; ".join(reasons)
    return False, "the update is one optimizer step on the sampling policy, which supplies them itself"
