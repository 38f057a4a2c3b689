"""Keys added with Hydra's ``+key=value`` that nothing reads: refused, with a "did you mean".

Hydra refuses ``key=value`` for a key the YAML files do not define, but ``+key=value`` adds any key, so a
misspelt ``+actor_rollout_ref.rollout.mirco_batch_size=8`` used to be accepted and silently ignored. A key
absent from the YAML defaults is accepted only when something reads it: a key the checks know
(``TYPED_KEYS``, ``READ_IF_PRESENT``), a key under a free-form section, or a knob of the chosen advantage
estimator directly under ``algorithm`` (e.g. ``+algorithm.floor`` for an estimator with a ``floor`` argument).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Iterator

from omegaconf import DictConfig, OmegaConf

from maxrl.config import CONFIG_DIR, MAIN_CONFIG

# Sections whose keys are passed on as a mapping, so any key may be added there.
FREE_FORM_SECTIONS = (
    "reward_model.reward_kwargs",  # checked against the manager's options by maxrl.rewards.registry
    "actor_rollout_ref.model.override_config",  # merged into the model's config.json
    "actor_rollout_ref.actor.policy_loss",  # knobs of the registered policy loss
)
# Keys not in the YAML that the code reads when present.
READ_IF_PRESENT = (
    "actor_rollout_ref.rollout.micro_batch_size",
    "actor_rollout_ref.actor.optim.lr_scheduler_type",
)


def yaml_defaults() -> DictConfig:
    """The config the YAML files define, assembled from the main file's defaults list (no overrides)."""
    main = OmegaConf.load(CONFIG_DIR / f"{MAIN_CONFIG}.yaml")
    tree = OmegaConf.create()
    for entry in main.get("defaults", []):
        if not isinstance(entry, DictConfig):
            continue  # _self_
        ((group, option),) = entry.items()
        group, _, package = str(group).partition("@")
        section = OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml")
        OmegaConf.update(tree, package or group.replace("/", "."), section, merge=True, force_add=True)
    own = {key: value for key, value in main.items() if key not in ("defaults", "hydra")}
    return OmegaConf.merge(tree, own)


def leaf_keys(cfg: DictConfig) -> list[str]:
    """Dotted paths of every value that is not itself a non-empty mapping (interpolations unresolved)."""

    def walk(node, prefix: str) -> Iterator[str]:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                yield from walk(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1]

    return list(walk(OmegaConf.to_container(cfg, resolve=False), ""))


def _estimator_accepts(cfg: DictConfig, knob: str) -> bool:
    """Whether the chosen advantage estimator takes ``knob`` (any knob if it takes ``**kwargs``)."""
    from maxrl.algorithms import get_advantage_spec

    try:
        spec = get_advantage_spec(OmegaConf.select(cfg, "algorithm.adv_estimator"))
    except ValueError:
        return True  # an unknown estimator is reported by check_estimator
    parameters = list(inspect.signature(spec.fn).parameters.values())[3:]
    return any(p.kind is p.VAR_KEYWORD or p.name == knob for p in parameters)


def closest_key(key: str, known: set[str]) -> str | None:
    """A sibling with a similar name (a typo in the last part), else a similar full path."""
    parent, _, name = key.rpartition(".")
    siblings = {k.rpartition(".")[2]: k for k in known if k.rpartition(".")[0] == parent}
    close = difflib.get_close_matches(name, sorted(siblings), n=1, cutoff=0.6)
    if close:
        return siblings[close[0]]
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.85)
    return close[0] if close else None


def added_key_problems(cfg: DictConfig, known_keys: Iterable[str]) -> Iterator[str]:
    """One problem per key that is in ``cfg`` but neither in the YAML defaults nor read by anything."""
    defined = set(leaf_keys(yaml_defaults()))
    known = defined | set(known_keys) | set(READ_IF_PRESENT)
    for key in leaf_keys(cfg):
        if key in known or any(key.startswith(section + ".") for section in FREE_FORM_SECTIONS):
            continue
        section, _, knob = key.partition(".")
        if section == "algorithm" and "." not in knob and _estimator_accepts(cfg, knob):
            continue
        close = closest_key(key, known)
        hint = f"did you mean {close}? " if close else ""
        yield (
            f"+{key}: no such key, and nothing reads it; {hint}Keys can be added with + only under "
            f"{', '.join(FREE_FORM_SECTIONS)} and, for the chosen estimator's knobs, directly under algorithm"
        )
