"""When a batch's scoring must stop the run instead of training on what came back.

Two rules (config ``reward_model.invalid_reward`` and ``reward_model.max_failed_fraction``):

* a scorer that returns something other than a finite number or a dict with a finite numeric ``score``
  (NaN, inf, a string, None, a dict without ``score``) is a bug in the scorer; by default it stops the run
  naming the item, its data_source and the scorer. A NaN reward would otherwise reach the loss and the
  gradient (``pg_loss nan``) while the run carries on.
* a scorer that raises on a large part of a batch is a bug, not a flaky item: when the failed items reach
  ``max_failed_fraction`` of the scored ones the run stops with the first traceback. The default, 1.0,
  stops only when every item failed. Timeouts never count here: a response can make any scorer slow.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

INVALID_REWARD_MODES = ("error", "zero")


class RewardError(RuntimeError):
    """Scoring a batch went wrong in a way that must stop the run. ``item`` is the batch position of the
    first item at fault (None when the cause is not one item)."""

    def __init__(self, message: str, item: int | None = None):
        super().__init__(message)
        self.item = item


@dataclass(frozen=True)
class FailurePolicy:
    """``invalid_reward``: ``error`` stops the run at an invalid return value; ``zero`` scores that item like
    one whose scorer raised (``timeout_score``, counted in ``reward/invalid_count``; it stays in the loss).
    ``max_failed_fraction`` in [0, 1]: stop when at least one item failed and failed >= fraction x scored
    (0 stops at the first failure, 1.0 only when all failed)."""

    invalid_reward: str = "error"
    max_failed_fraction: float = 1.0

    def __post_init__(self):
        if self.invalid_reward not in INVALID_REWARD_MODES:
            raise ValueError(
                f"reward_model.invalid_reward={self.invalid_reward!r}: choose one of {list(INVALID_REWARD_MODES)}"
            )
        fraction = self.max_failed_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction <= 1:
            raise ValueError(f"reward_model.max_failed_fraction={fraction!r}: expected a number in [0, 1]")

    @classmethod
    def from_config(cls, reward_model) -> FailurePolicy:
        """From the ``reward_model`` config section (its defaults live in reward_model.yaml)."""
        return cls(invalid_reward=reward_model.invalid_reward, max_failed_fraction=reward_model.max_failed_fraction)

    def too_many_failed(self, failed: int, scored: int) -> bool:
        return failed > 0 and failed >= self.max_failed_fraction * scored


def describe_scorer(compute_score) -> str:
    """The scorer as the user configured it: the custom file and function, or the function's name."""
    path, name = getattr(compute_score, "path", None), getattr(compute_score, "name", None)
    if path is not None and name is not None:
        return f"custom_reward_function.path={path} custom_reward_function.name={name}"
    module = getattr(compute_score, "__module__", None) or "?"
    return f"{module}.{getattr(compute_score, '__qualname__', repr(compute_score))}"


def describe_item(item: tuple, position: int, count: int) -> str:
    """One item of a batch, enough to find it in the data: position, data_source, index, ground truth."""
    data_source, response, ground_truth, extra_info = item
    index = extra_info.get("index") if isinstance(extra_info, dict) else None
    where = f"item {position} of {count} (data_source={data_source!r}"
    if index is not None:
        where += f", extra_info.index={index!r}"
    return f"{where}, ground_truth={ground_truth!r:.80}, response={response!r:.80})"


def invalid_reward_error(message: str, item: tuple, position: int, count: int, compute_score) -> RewardError:
    return RewardError(
        f"the scorer {describe_scorer(compute_score)} {message} for {describe_item(item, position, count)}. "
        "A scorer must return a finite number or a dict with a finite numeric 'score'; fix the scorer, or set "
        "reward_model.invalid_reward=zero to score such items like failed ones (counted in reward/invalid_count)",
        item=position,
    )


def too_many_failed_error(
    failed: int, scored: int, policy: FailurePolicy, first: tuple[int, str], items: list[tuple], compute_score
) -> RewardError:
    position, message = first
    return RewardError(
        f"the scorer {describe_scorer(compute_score)} failed on {failed} of {scored} items of this batch "
        f"(reward_model.max_failed_fraction={policy.max_failed_fraction}: the run stops at that fraction, so "
        "that a broken scorer does not train on zero rewards). First failure, "
        f"{describe_item(items[position], position, len(items))}:\n{message}",
        item=position,
    )
