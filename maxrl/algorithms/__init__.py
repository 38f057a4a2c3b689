"""Pure-torch RL math: advantage estimators, policy losses, loss aggregation, rollout correction, KL,
log-probs, pass@k.

Nothing here imports Ray or models, so every formula is testable in isolation (docs/algorithms.md).
"""

from maxrl.algorithms import advantages  # noqa: F401  (registers the built-in estimators)
from maxrl.algorithms.grouping import GroupIndex
from maxrl.algorithms.kl import (
    KL_TYPES,
    AdaptiveKLController,
    FixedKLController,
    build_kl_controller,
    kl_penalty,
)
from maxrl.algorithms.logprob import SamplingDistribution, entropy_from_logits, log_probs_from_logits
from maxrl.algorithms.losses import LOSS_AGG_MODES, agg_loss, loss_normalizer
from maxrl.algorithms.metrics import (
    BestWorst,
    ScalingEfficiency,
    best_worst_at_k,
    maj_at_k,
    pass_at_k,
    test_time_scaling_efficiency,
)
from maxrl.algorithms.registry import (
    ADVANTAGE_ESTIMATORS,
    POLICY_LOSSES,
    AdvantageSpec,
    compute_advantage,
    compute_policy_loss,
    get_advantage_spec,
    register_advantage,
    register_policy_loss,
)
from maxrl.algorithms.rollout_correction import Correction, RolloutCorrection

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "KL_TYPES",
    "LOSS_AGG_MODES",
    "POLICY_LOSSES",
    "AdaptiveKLController",
    "AdvantageSpec",
    "BestWorst",
    "Correction",
    "FixedKLController",
    "GroupIndex",
    "RolloutCorrection",
    "SamplingDistribution",
    "ScalingEfficiency",
    "agg_loss",
    "best_worst_at_k",
    "build_kl_controller",
    "compute_advantage",
    "compute_policy_loss",
    "entropy_from_logits",
    "get_advantage_spec",
    "kl_penalty",
    "log_probs_from_logits",
    "loss_normalizer",
    "maj_at_k",
    "pass_at_k",
    "register_advantage",
    "register_policy_loss",
    "test_time_scaling_efficiency",
]
