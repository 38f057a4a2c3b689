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
    attribute: str  # the dataclass field's name (differs from the key's last part for a keyword like async)

    @property
    def free_form(self) -> bool:
        """A mapping passed on as a whole, so any key may be added under it."""
        return typing.get_origin(self.type) is dict


@dataclass(frozen=True)
class Section:
    path: str
    help: str
    open: str | None  # which undeclared keys + may add here
    attribute: str


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return inner, True
    return hint, False


def walk(cls: type, prefix: str = "") -> Iterator[Key | Section]:
    """The sections and keys of a schema dataclass, each section before what it holds."""
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        meta, hint = spec.metadata, hints[spec.name]
        path = f"{prefix}{meta['key'] or spec.name}"
        if dataclasses.is_dataclass(hint):
            yield Section(path, meta["help"], meta["open"], spec.name)
            yield from walk(hint, f"{path}.")
            continue
        inner, optional = _unwrap_optional(hint)
        yield Key(path, inner, optional or hint is Any, meta["help"], meta["rule"], meta["added"], spec.name)


@cache
def schema_keys() -> dict[str, Key]:
    """Every key of the schema by dotted path."""
    return {item.path: item for item in walk(MaxrlConfig) if isinstance(item, Key)}


@cache
def schema_sections() -> dict[str, Section]:
    """Every section of the schema by dotted path (top-level ones included)."""
    return {item.path: item for item in walk(MaxrlConfig) if isinstance(item, Section)}
