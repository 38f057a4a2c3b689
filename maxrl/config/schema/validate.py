"""Type and single-value checks of a composed config against the schema, through OmegaConf's typed nodes.

Each present key's value is assigned to a structured node of the field's type, so OmegaConf converts it
(``"8"`` -> 8, ``1`` -> 1.0) or refuses it; then the field's rule checks the typed value. Keys are checked
one at a time so that every problem is reported, not only the first OmegaConf meets. Keys the schema does
not declare are left to `maxrl.config.added_keys`.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException, ValidationError

from maxrl.config.schema.keys import Key, Section, schema_keys, walk
from maxrl.config.schema.root import MaxrlConfig

_ABSENT = object()
TYPE_REQUIREMENTS = {
    int: "must be an integer",
    float: "must be a number",
    bool: "must be true or false",
    str: "must be a string",
    list: "must be a list",
    dict: "must be a mapping",
}


def show(key: str, value: Any) -> str:
    """``key=value`` as the problems print it (strings quoted)."""
    return f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"


def typed_schema(root: type = MaxrlConfig) -> DictConfig:
    """An empty structured config of the schema ``root``: keys named as in the config (a field declared with
    ``key=`` moves to that name), open where a section takes undeclared knobs."""
    typed = OmegaConf.structured(root)
    items = list(walk(root))
    for item in items:
        parent_path, _, name = item.path.rpartition(".")
        if name != item.attribute:
            parent = OmegaConf.select(typed, parent_path) if parent_path else typed
            with open_dict(parent):
                parent[name] = parent[item.attribute]
                del parent[item.attribute]
    for item in items:
        if isinstance(item, Section) and item.open:
            OmegaConf.set_struct(OmegaConf.select(typed, item.path), False)
    return typed


def _requirement(key: Key) -> str:
    if key.rule is not None:
        return key.rule.requirement
    return TYPE_REQUIREMENTS.get(typing.get_origin(key.type) or key.type, "has the wrong type")


@cache
def _typed_node(hint: Any, optional: bool) -> DictConfig:
    """A structured config with one field, ``value``, of type ``hint``: assigning to it converts or refuses."""
    value = dataclasses.field(default=MISSING)
    holder = dataclasses.make_dataclass("Value", [("value", hint | None if optional else hint, value)])
    return OmegaConf.structured(holder)


def typed_value(key: Key, value: Any) -> Any:
    """``value`` converted to ``key``'s type by OmegaConf; raises `omegaconf.ValidationError` when it cannot be."""
    if key.type is Any:
        return value
    node = _typed_node(key.type, key.optional)
    node.value = value
    return node.value


def field_problems(cfg: DictConfig, under: str = "") -> dict[str, str]:
    """``{key: problem}`` for each schema key (below the section ``under``, if given) present in ``cfg`` whose
    value has the wrong type or breaks its rule."""
    problems: dict[str, str] = {}
    for path, key in schema_keys().items():
        if not path.startswith(under):
            continue
        try:
            value = OmegaConf.select(cfg, path, default=_ABSENT)
        except OmegaConfBaseException as error:  # an interpolation that does not resolve
            problems[path] = f"{path}: {type(error).__name__}: {str(error).splitlines()[0]}"
            continue
        if value is _ABSENT:
            continue
        try:
            converted = typed_value(key, value)
        except ValidationError:
            problems[path] = f"{show(path, value)} {_requirement(key)}"
            continue
        if key.rule is None or (converted is None and key.optional):
            continue
        problem = key.rule.problem(converted)
        if problem:
            problems[path] = f"{show(path, value)} {problem}"
    return problems


def typed_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` merged onto the schema: values of their declared types, and every key present (``+``-only keys
    as null), so code reading it needs no ``.get(key, default)``. Raises OmegaConf's error on a bad value;
    run `maxrl.config.checks.check_config` first for the readable report."""
    return OmegaConf.merge(typed_schema(), cfg)
