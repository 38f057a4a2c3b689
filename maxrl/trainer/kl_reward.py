"""`algorithm.use_kl_in_reward`: token rewards minus beta * KL(policy || reference).

beta comes from a fixed or adaptive controller (`maxrl.algorithms.build_kl_controller`); the adaptive one
moves beta toward ``kl_ctrl.target_kl`` after every step, so its value is part of a checkpoint.
"""

from __future__ import annotations

import torch

from maxrl.algorithms import kl_penalty


def kl_penalized_rewards(
    token_level_scores: torch.Tensor,
    old_log_probs: torch.Tensor,
    ref_log_prob: torch.Tensor,
    response_mask: torch.Tensor,
    kl_type: str,
    controller,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``scores - beta * kl`` per token (0 beyond the response), then the controller's update.

    The KL of a step is the per-sequence mean over valid tokens, averaged over sequences; it is logged as
    ``actor/reward_kl_penalty`` with the beta used as ``actor/reward_kl_penalty_coeff``.
    """
    mask = response_mask.float()
    kl = kl_penalty(old_log_probs, ref_log_prob, kl_type) * mask
    beta = controller.value
    current_kl = float((kl.sum(-1) / mask.sum(-1).clamp(min=1)).mean())
    controller.update(current_kl, n_steps=token_level_scores.shape[0])
    metrics = {"actor/reward_kl_penalty": current_kl, "actor/reward_kl_penalty_coeff": beta}
    return token_level_scores - beta * kl, metrics
