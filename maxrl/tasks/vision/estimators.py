"""The two REINFORCE variants of the paper's ImageNet figure, added to the shared estimator registry.

* ``reinforce``: A = r, no baseline; unbiased for the pass@1 gradient, with the largest variance.
* ``reinforce_with_baseline``: A = r - r̄ with r̄ the group's mean reward (the figure's "REINFORCE"). Its
  expectation is (1 - 1/N) times the pass@1 gradient, because the baseline includes the sample itself.
  This is exactly Dr.GRPO, i.e. the shared ``grpo`` estimator with ``norm_adv_by_std_in_grpo=False``, so it is
  registered as that call rather than as a second implementation.

`register_estimators()` adds them, each only when ``maxrl.algorithms`` does not already provide it. The vision
entry points call it (`maxrl.tasks.vision.config.build_config`); importing the task registers nothing, so the
LLM trainer's registry is the same whether or not the vision task was imported.
"""

from __future__ import annotations

from maxrl import algorithms
from maxrl.algorithms.advantages.outcome import sequence_scores, to_tokens


def reinforce_advantage(token_level_rewards, response_mask, group_ids):
    """A = r: the sequence reward itself."""
    advantages = to_tokens(sequence_scores(token_level_rewards, response_mask), response_mask)
    return advantages, advantages


def reinforce_with_baseline_advantage(token_level_rewards, response_mask, group_ids):
    """A = r - r̄ (group mean, sample included): the shared grpo estimator without the std division."""
    return algorithms.compute_advantage(
        "grpo", token_level_rewards, response_mask, group_ids, norm_adv_by_std_in_grpo=False
    )


_REINFORCE_FAMILY = {
    "reinforce": (reinforce_advantage, 1),
    "reinforce_with_baseline": (reinforce_with_baseline_advantage, 2),
}

def register_estimators() -> None:
    """Register the REINFORCE variants in the shared registry (idempotent)."""
    for name, (fn, min_group_size) in _REINFORCE_FAMILY.items():
        if name not in algorithms.ADVANTAGE_ESTIMATORS:
            algorithms.register_advantage(name, min_group_size=min_group_size)(fn)
