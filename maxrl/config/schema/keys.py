"""The schema as a flat list: every key (dotted path, type, help, rule) and every section, in declaration order."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from maxrl.config.schema.fields import Rule
from maxrl.config.schema.root import MaxrlConfig


@dataclass(frozen=True)
class Key:
    """One leaf of the schema."""

    path: str
    type: Any  # the annotation without Optional
    optional: bool  # null is accepted
    help: str
    rule: Rule | None
    added: bool  # not in the YAML; added with + (null when absent)

    @property
    def free_form(self) -> bool:
        """A mapping passed on as a whole, so any key may be added under it."""
        return typing.get_origin(self.type) is dict


@dataclass(frozen=True)
class Section:
    path: str
    help: str
    open: str | None  # which undeclared keys + may add here


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return inner, True
    return hint, False


def _walk(cls: type, prefix: str) -> Iterator[Key | Section]:
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        path, hint = f"{prefix}{spec.name}", hints[spec.name]
        if dataclasses.is_dataclass(hint):
            yield Section(path, spec.metadata["help"], spec.metadata["open"])
            yield from _walk(hint, f"{path}.")
            continue
        inner, optional = _unwrap_optional(hint)
        meta = spec.metadata
        yield Key(path, inner, optional or hint is Any, meta["help"], meta["rule"], meta["added"])


@cache
def schema_keys() -> dict[str, Key]:
    """Every key of the schema by dotted path."""
    return {item.path: item for item in _walk(MaxrlConfig, "") if isinstance(item, Key)}


@cache
def schema_sections() -> dict[str, Section]:
    """Every section of the schema by dotted path (top-level ones included)."""
    return {item.path: item for item in _walk(MaxrlConfig, "") if isinstance(item, Section)}
