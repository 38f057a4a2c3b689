"""Rule-based rewards: verl-signature scorers, routing by ``data_source``, custom scorer files, and the
process-pool reward manager."""

from maxrl.rewards.custom import FileScorer, load_custom_score
from maxrl.rewards.default import check_data_sources, default_compute_score, known_data_sources
from maxrl.rewards.failures import FailurePolicy, RewardError
from maxrl.rewards.manager import RewardManager, RewardResult
from maxrl.rewards.registry import MANAGER_OPTIONS, build_reward_manager

__all__ = [
    "MANAGER_OPTIONS",
    "FailurePolicy",
    "FileScorer",
    "RewardError",
    "RewardManager",
    "RewardResult",
    "build_reward_manager",
    "check_data_sources",
    "default_compute_score",
    "known_data_sources",
    "load_custom_score",
]
