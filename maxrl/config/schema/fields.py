"""How a schema field is declared: its type (the annotation), a one-line help, and its single-value rule.

The YAML files hold every default; a field here says what the key is and what values it takes, so
`maxrl.config.schema.validate` can type-check a composed config through OmegaConf and docs/config.md can be
written from the help strings. Each rule checks one value that OmegaConf has already converted to the
field's type; its ``requirement`` completes a sentence such as ``data.train_batch_size=0 must be a positive
integer`` and is also the message when the value cannot be converted at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, ListConfig


@dataclass(frozen=True)
class Rule:
    """A single-value check: ``ok(value)`` on the typed value; ``explain`` words a failure that depends on it."""

    requirement: str
    ok: Callable[[Any], bool]
    explain: Callable[[Any], str] | None = None

    def problem(self, value: Any) -> str | None:
        if self.ok(value):
            return None
        return self.explain(value) if self.explain else self.requirement


def knob(help: str, rule: Rule | None = None, *, added: bool = False, key: str | None = None) -> Any:
    """A key of a section, its default in the YAML (``MISSING`` here). ``added``: not in the YAML; verl scripts
    add it with ``+``, so its default (null) lives here. ``key``: the config key when it cannot be the
    attribute's name (a Python keyword such as ``async``: declare ``async_`` with ``key="async"``)."""
    metadata = {"help": help, "rule": rule, "added": added, "key": key}
    return field(default=None if added else MISSING, metadata=metadata)


def section(cls: type, help: str, *, open: str | None = None, key: str | None = None) -> Any:
    """A nested section. ``open`` says which undeclared keys ``+`` may add there (they are passed on as
    knobs); ``key`` as for `knob`."""
    return field(default_factory=cls, metadata={"help": help, "open": open, "key": key})


def as_list(value: Any) -> list:
    """A path-or-list config value as a Python list ([] for null)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, ListConfig)):
        return list(value)
    return [value]


# --------------------------------------------------------------------------- rules
positive_int = Rule("must be a positive integer", lambda v: v > 0)
non_negative_int = Rule("must be an integer >= 0", lambda v: v >= 0)
positive = Rule("must be a number > 0", lambda v: v > 0)
non_negative = Rule("must be a number >= 0", lambda v: v >= 0)
fraction = Rule("must be a number in (0, 1]", lambda v: 0 < v <= 1)
unit_interval = Rule("must be a number in [0, 1]", lambda v: 0 <= v <= 1)
dropout_rate = Rule("must be a number in [0, 1)", lambda v: 0 <= v < 1)
frequency = Rule("must be -1 (off) or a positive integer", lambda v: v == -1 or v > 0)


def above(bound: float) -> Rule:
    return Rule(f"must be a number > {bound:g}", lambda v: v > bound)


def one_of(*choices: Any) -> Rule:
    return Rule(f"must be one of {list(choices)}", lambda v: v in choices)


def equals(expected: Any, why: str) -> Rule:
    return Rule(f"must be {expected!r}: {why}", lambda v: v == expected)


def deprecated(replacement: str) -> Rule:
    """A verl key kept only so scripts compose: it must stay null."""
    return Rule(f"must be null: the deprecated global micro-batch; use {replacement} (samples per device)",
                lambda v: v is None)


def renamed(replacement: str) -> Rule:
    """An earlier name of a key, kept in the YAML as null so that a script setting it learns the new one."""
    return Rule(f"must be null: renamed, use {replacement}", lambda v: v is None)


def each_of(choices: Sequence[str], what: str) -> Rule:
    """A name or a list of names, each among ``choices``."""

    def unknown(value: Any) -> list:
        return [name for name in as_list(value) if name not in choices]

    return Rule(
        f"must be one or more of {list(choices)}",
        lambda v: not unknown(v),
        lambda v: f"has unknown {what} {unknown(v)}; choose from {list(choices)}",
    )


def _not_positive_ints(value: Any) -> list:
    return [k for k in as_list(value) if isinstance(k, bool) or not isinstance(k, int) or k < 1]


positive_ints = Rule(
    "must be a positive integer or a list of them",
    lambda v: not _not_positive_ints(v),
    lambda v: f"holds {_not_positive_ints(v)}, which are not positive integers",
)

lora_targets = Rule(
    "must be all-linear or a non-empty list of module names",
    lambda v: v == "all-linear"
    or (isinstance(v, (list, ListConfig)) and len(v) > 0 and all(isinstance(name, str) for name in v)),
)
