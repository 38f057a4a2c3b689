"""Registries that map config names to advantage estimators and policy losses.

The trainer stays algorithm-blind: it looks an estimator up by `algorithm.adv_estimator`, reads the
estimator's declared needs (`min_group_size`, `extra_inputs`) before starting, and passes the whole
`algorithm` config section as knobs. Each registered function receives only the knobs its signature
names, so unrelated keys are ignored and a plugin declares its knobs simply as keyword parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import torch

from maxrl.algorithms.grouping import GroupIndex


def _keyword_filter(fn: Callable, skip: int) -> Callable[[dict], dict]:
    """Return a function that keeps only the keyword arguments `fn` accepts (all of them with **kwargs)."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict
    accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return lambda kwargs: {k: v for k, v in kwargs.items() if k in accepted}


# --------------------------------------------------------------------------------------------------
# Advantage estimators
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvantageSpec:
    """An estimator and what it needs: the trainer checks both before any rollout is generated."""

    name: str
    fn: Callable  # (token_level_rewards, response_mask, group_ids, **knobs) -> (advantages, returns)
    min_group_size: int  # smallest group (responses per prompt) the estimator is defined for
    extra_inputs: tuple[str, ...]  # keyword inputs besides rewards, e.g. ("values",) for gae
    # True when the advantages already carry the group mean's 1/N (the Maclaurin family, vr_cond): summed
    # over a group, not averaged, they give the estimator's gradient. A loss that averages over the N samples
    # itself (the vision task) multiplies them by N to get every estimator's gradient at the same scale.
    divided_by_group_size: bool = False

    @property
    def uses_groups(self) -> bool:
        """Whether a sample's advantage depends on the other samples of its prompt (then every group must be
        complete: a missing sample changes the others' advantages, it is not merely absent)."""
        return self.min_group_size > 1 or self.divided_by_group_size


_ADVANTAGE_SPECS: dict[str, AdvantageSpec] = {}
_ADVANTAGE_FNS: dict[str, Callable] = {}
ADVANTAGE_ESTIMATORS = MappingProxyType(_ADVANTAGE_FNS)  # read-only: register with @register_advantage


def _check_advantage_inputs(name: str, token_level_rewards, response_mask, group_ids, knobs: dict,
                            extra_inputs: tuple[str, ...]) -> None:
    if not isinstance(token_level_rewards, torch.Tensor) or token_level_rewards.dim() != 2:
        raise ValueError(f"{name}: token_level_rewards must be a [batch, response_length] tensor")
    if not isinstance(response_mask, torch.Tensor) or response_mask.shape != token_level_rewards.shape:
        shape = getattr(response_mask, "shape", None)
        raise ValueError(f"{name}: response_mask must have the rewards' shape "
                         f"{tuple(token_level_rewards.shape)}, got {shape}")
    if len(group_ids) != token_level_rewards.shape[0]:
        raise ValueError(f"{name}: got {len(group_ids)} group ids for {token_level_rewards.shape[0]} rows; "
                         "pass one id per row (the prompt uid repeated for each response)")
    missing = [key for key in extra_inputs if knobs.get(key) is None]
    if missing:
        raise ValueError(f"advantage estimator {name!r} needs the extra input(s) {missing}; pass them as "
                         f"keyword arguments (see get_advantage_spec({name!r}).extra_inputs)")


def register_advantage(name: str, *, min_group_size: int = 1, extra_inputs: tuple[str, ...] = (),
                       divided_by_group_size: bool = False,
                       override: bool = False) -> Callable[[Callable], Callable]:
    """Register `fn(token_level_rewards, response_mask, group_ids, **knobs) -> (advantages, returns)`.

    The registered function validates shapes, extra inputs and group sizes, then calls `fn` with the knobs
    its signature names. `divided_by_group_size` declares the scale (see `AdvantageSpec`). `override=True`
    replaces an existing estimator of the same name. The knob ``group_size`` (the trainer passes
    ``actor_rollout_ref.rollout.n``) makes an estimator that uses groups refuse any group of another size.
    """

    def decorator(fn: Callable) -> Callable:
        if name in _ADVANTAGE_SPECS and not override:
            raise ValueError(f"advantage estimator {name!r} is already registered (use override=True)")
        known_knobs = _keyword_filter(fn, skip=3)
        unreachable = set(extra_inputs) - set(known_knobs(dict.fromkeys(extra_inputs)))
        if unreachable:
            raise TypeError(f"advantage estimator {name!r} declares extra inputs {sorted(unreachable)} that its "
                            "signature does not accept; add them as keyword parameters")

        spec = AdvantageSpec(name, None, int(min_group_size), tuple(extra_inputs), bool(divided_by_group_size))

        @functools.wraps(fn)
        def estimator(token_level_rewards, response_mask, group_ids, **knobs):
            _check_advantage_inputs(name, token_level_rewards, response_mask, group_ids, knobs, extra_inputs)
            group_size = knobs.get("group_size")
            if spec.uses_groups and group_size is not None:
                GroupIndex.from_ids(group_ids).require_exact_size(int(group_size), name)
            elif min_group_size > 1:
                GroupIndex.from_ids(group_ids).require_min_size(min_group_size, name)
            return fn(token_level_rewards, response_mask, group_ids, **known_knobs(knobs))

        spec = dataclasses.replace(spec, fn=estimator)
        _ADVANTAGE_SPECS[name] = spec
        _ADVANTAGE_FNS[name] = estimator
        return estimator

    return decorator


def get_advantage_spec(name: str) -> AdvantageSpec:
    try:
        return _ADVANTAGE_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown advantage estimator {name!r} (algorithm.adv_estimator); known: "
                         f"{sorted(_ADVANTAGE_SPECS)}. Plugins register with @register_advantage.") from None


def compute_advantage(name: str, token_level_rewards: torch.Tensor, response_mask: torch.Tensor, group_ids,
                      **knobs) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token (advantages, returns) from the estimator registered as `name`."""
    return get_advantage_spec(name).fn(token_level_rewards, response_mask, group_ids, **knobs)


# --------------------------------------------------------------------------------------------------
# Policy losses
# --------------------------------------------------------------------------------------------------

_POLICY_LOSS_FNS: dict[str, Callable] = {}
POLICY_LOSSES = MappingProxyType(_POLICY_LOSS_FNS)  # read-only: register with @register_policy_loss


def register_policy_loss(name: str, *, override: bool = False) -> Callable[[Callable], Callable]:
    """Register `fn(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, normalizer, **cfg)`
    returning `(loss, metrics)`; the function receives only the config keys its signature names.

    A loss that names a `token_weights` parameter multiplies its per-token loss by them before aggregation
    (rollout correction); calling one that does not with weights is an error, never a silent no-op."""

    def decorator(fn: Callable) -> Callable:
        if name in _POLICY_LOSS_FNS and not override:
            raise ValueError(f"policy loss {name!r} is already registered (use override=True)")
        known_keys = _keyword_filter(fn, skip=6)
        takes_weights = bool(known_keys({"token_weights": None}))

        @functools.wraps(fn)
        def policy_loss(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode="token-mean",
                        normalizer=None, token_weights=None, **cfg):
            weights = {}
            if token_weights is not None:
                if not takes_weights:
                    raise ValueError(f"policy loss {name!r} has no token_weights parameter, which "
                                     "algorithm.rollout_correction needs; add one or turn the correction off")
                weights["token_weights"] = token_weights
            return fn(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, normalizer,
                      **known_keys(cfg), **weights)

        _POLICY_LOSS_FNS[name] = policy_loss
        return policy_loss

    return decorator


def compute_policy_loss(loss_mode: str, old_log_prob: torch.Tensor, log_prob: torch.Tensor,
                        advantages: torch.Tensor, response_mask: torch.Tensor,
                        loss_agg_mode: str = "token-mean", normalizer=None,
                        token_weights: torch.Tensor | None = None, **clip_cfg) -> tuple[torch.Tensor, dict]:
    """Policy-gradient loss of `loss_mode` (actor_rollout_ref.actor.policy_loss.loss_mode) and its metrics;
    `token_weights` [B, L] (detached) multiply the per-token loss before aggregation."""
    try:
        fn = _POLICY_LOSS_FNS[loss_mode]
    except KeyError:
        raise ValueError(f"unknown policy loss {loss_mode!r} (actor_rollout_ref.actor.policy_loss."
                         f"loss_mode); known: {sorted(_POLICY_LOSS_FNS)}") from None
    return fn(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, normalizer,
              token_weights=token_weights, **clip_cfg)
