"""Training objectives: exact maximum likelihood (cross-entropy) or sampling-based RL over labels.

For RL the classifier's softmax is the policy. Per image, N labels a_1..a_N are sampled with replacement;
reward r_i = 1 iff a_i is the true label. The advantages A_i come from the same estimators as the LLM trainer
(``maxrl.algorithms.compute_advantage``; one group = the N samples of one image, each a "sequence" of length
one), and the surrogate loss is

    loss = -1/(B N) * sum_{b, i} A_{b,i} * log pi(a_{b,i} | x_b),     A detached,

whose gradient is the estimator's policy gradient. Since log pi(a|x) depends on the sample only through its
label, the loss is computed as -1/(B N) * sum_{b,c} W_{b,c} log pi(c | x_b), where W_{b,c} sums the advantages
of the samples that drew label c: one [B, C] product instead of gathering B*N log-probabilities.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from maxrl import algorithms

CROSS_ENTROPY = "cross_entropy"
PAPER_OBJECTIVES = (
    CROSS_ENTROPY, "maxrl", "grpo", "rloo", "reinforce_with_baseline", "reinforce", "maclaurin", "pkpo",
)


def known_objectives() -> tuple[str, ...]:
    """cross_entropy plus every advantage estimator registered in maxrl.algorithms (the REINFORCE variants
    once `maxrl.tasks.vision.estimators.register_estimators` has run)."""
    return (CROSS_ENTROPY, *sorted(algorithms.ADVANTAGE_ESTIMATORS))


def estimator_knobs(objective) -> dict:
    """The estimator keyword arguments of an ``objective`` config section (unused ones are ignored)."""
    return {
        "truncate_order": objective.truncate_order or objective.num_rollouts,
        "pass_k": objective.pass_k,
        "norm_adv_by_std_in_grpo": objective.norm_adv_by_std_in_grpo,
    }


def check_objective(name: str, num_rollouts: int, **knobs) -> None:
    """Fail before any data is loaded when the estimator cannot run with these rollouts and knobs.

    Beyond the registry's declared needs, the estimator is called once on a group of ``num_rollouts``
    samples with one success, so that any knob it rejects (e.g. pkpo's k above N) is reported now.
    """
    if name == CROSS_ENTROPY:
        return
    if name not in algorithms.ADVANTAGE_ESTIMATORS:
        raise ValueError(f"objective.name={name!r} is not one of {known_objectives()}")
    spec = algorithms.get_advantage_spec(name)
    if num_rollouts < spec.min_group_size:
        raise ValueError(
            f"objective.name={name} needs objective.num_rollouts >= {spec.min_group_size}, got {num_rollouts}"
        )
    if spec.extra_inputs:
        raise ValueError(
            f"objective.name={name} needs {spec.extra_inputs} (a critic or greedy rollouts), which "
            "classification does not provide; pick an outcome-only estimator"
        )
    rewards = torch.zeros(num_rollouts, 1)
    rewards[0] = 1.0
    try:
        algorithms.compute_advantage(name, rewards, torch.ones_like(rewards), [0] * num_rollouts, **knobs)
    except ValueError as error:
        raise ValueError(f"objective.name={name} with objective.num_rollouts={num_rollouts}: {error}") from error


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Losses are computed in float32 even under bfloat16 autocast (float64 stays float64)."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def sample_labels(logits: torch.Tensor, num_samples: int, generator: torch.Generator | None = None):
    """[B, N] labels drawn with replacement from softmax(logits), in float32."""
    probs = torch.softmax(logits.detach().float(), dim=1)
    return torch.multinomial(probs, num_samples, replacement=True, generator=generator)


def label_advantage_weights(
    actions: torch.Tensor, labels: torch.Tensor, num_classes: int, estimator: str, **knobs
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """W[b, c] = sum of the advantages of image b's samples that drew label c, plus rollout statistics.

    Statistics stay 0-dim tensors so that a GPU step does not wait for them; the logger converts them.
    """
    batch, num_samples = actions.shape
    rewards = (actions == labels[:, None]).to(torch.get_default_dtype())
    group_ids = np.repeat(np.arange(batch), num_samples)
    advantages, _ = algorithms.compute_advantage(
        estimator,
        token_level_rewards=rewards.reshape(-1, 1),
        response_mask=torch.ones(batch * num_samples, 1, device=actions.device),
        group_ids=group_ids,
        **knobs,
    )
    advantages = advantages.reshape(batch, num_samples).detach()
    # The loss averages over the N samples itself; estimators whose weights already carry the group mean's
    # 1/N are multiplied back, so every objective's loss gradient is its estimator's gradient at one scale
    # (the LLM trainer, like verl, uses them unscaled). tests/unit/vision checks each one's expectation.
    if algorithms.get_advantage_spec(estimator).divided_by_group_size:
        advantages = advantages * num_samples
    weights = torch.zeros(batch, num_classes, device=actions.device, dtype=advantages.dtype)
    weights.scatter_add_(1, actions, advantages)
    successes = rewards.sum(dim=1)
    stats = {
        "rollout/reward_mean": rewards.mean(),
        "rollout/frac_images_with_success": (successes > 0).float().mean(),
        "rollout/advantage_abs_mean": advantages.abs().mean(),
    }
    return weights, stats


def policy_gradient_loss(logits: torch.Tensor, weights: torch.Tensor, num_samples: int) -> torch.Tensor:
    """-1/(B N) sum_{b,c} W[b,c] log softmax(logits)[b,c] (weights already carry the advantages)."""
    log_probs = F.log_softmax(at_least_float32(logits), dim=1)
    return -(weights * log_probs).sum() / (logits.shape[0] * num_samples)


def objective_loss(
    name: str,
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_rollouts: int,
    generator: torch.Generator | None = None,
    **knobs,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training loss of one batch and its statistics (``rollout/*`` for sampled objectives)."""
    if name == CROSS_ENTROPY:
        return F.cross_entropy(at_least_float32(logits), labels), {}
    actions = sample_labels(logits, num_rollouts, generator)
    weights, stats = label_advantage_weights(actions, labels, logits.shape[1], name, **knobs)
    return policy_gradient_loss(logits, weights, num_rollouts), stats
