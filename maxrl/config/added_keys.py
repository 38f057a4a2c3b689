"""Keys added with Hydra's ``+key=value`` that nothing reads: refused, with a "did you mean".

Hydra refuses ``key=value`` for a key the YAML files do not define, but ``+key=value`` adds any key, so a
misspelt ``+actor_rollout_ref.rollout.mirco_batch_size=8`` used to be accepted and silently ignored. A key
absent from the YAML defaults is accepted only when something reads it: a key of the schema
(`maxrl.config.schema`, e.g. the ``+``-only ``actor_rollout_ref.rollout.micro_batch_size``), a key under a
free-form mapping or an open section, or a knob of the chosen advantage estimator directly under
``algorithm`` (e.g. ``+algorithm.floor`` for an estimator with a ``floor`` argument).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf

from maxrl.config.schema import schema_keys, schema_sections
from maxrl.config.yaml_tree import leaf_keys

ESTIMATOR_KNOBS = "algorithm"  # the open section whose direct keys must be knobs of the chosen estimator


def free_form_sections() -> tuple[str, ...]:
    """Where ``+`` may add any key: mappings passed on whole and open sections (the estimator's aside)."""
    mappings = [key.path for key in schema_keys().values() if key.free_form]
    sections = [s.path for s in schema_sections().values() if s.open and s.path != ESTIMATOR_KNOBS]
    return (*mappings, *sections)


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


def added_key_problems(cfg: DictConfig) -> Iterator[str]:
    """One problem per key that is in ``cfg`` but neither in the YAML defaults nor read by anything."""
    known = set(schema_keys())  # every YAML key included (tests/unit/config/test_cfg_schema.py)
    free_form = free_form_sections()
    for key in leaf_keys(cfg):
        if key in known or any(key.startswith(section + ".") for section in free_form):
            continue
        section, _, knob = key.partition(".")
        if section == ESTIMATOR_KNOBS and "." not in knob and _estimator_accepts(cfg, knob):
            continue
        close = closest_key(key, known)
        hint = f"did you mean {close}? " if close else ""
        yield (
            f"+{key}: no such key, and nothing reads it; {hint}Keys can be added with + only under "
            f"{', '.join(free_form)} and, for the chosen estimator's knobs, directly under {ESTIMATOR_KNOBS}"
        )
