"""Reading the entries of a verl-format tool or interaction config file, and the tool schemas the chat
template shows the model (``data.tool_config_path``). `maxrl.agents.config_files` checks and builds the
classes the entries name; the dataset only needs the schemas, to render prompts with ``tools=``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConfigFileError", "read_entries", "tool_schemas"]


class ConfigFileError(ValueError):
    """A tool or interaction config file that cannot be used; the message names the file, entry and fix."""


def read_entries(path: str | Path, top_key: str) -> list[dict[str, Any]]:
    """The entries of the top-level `top_key` list; each needs a ``class_name`` and may have a ``config`` mapping."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigFileError(f"{path}: file not found")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigFileError(f"{path}: not valid YAML ({error})") from None
    entries = content.get(top_key) if isinstance(content, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigFileError(f"{path}: expected a top-level {top_key!r} list with at least one entry")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            raise ConfigFileError(f"{path}: {top_key}[{index}] needs a class_name (an import path)")
        if not isinstance(entry.get("config") or {}, dict):
            raise ConfigFileError(f"{path}: {top_key}[{index}].config must be a mapping")
    return entries


def _check_schema(path: str | Path, index: int, schema: Any) -> dict[str, Any]:
    where = f"{path}: tools[{index}].tool_schema"
    if not isinstance(schema, dict) or schema.get("type") != "function" or not isinstance(schema.get("function"), dict):
        raise ConfigFileError(f"{where} must be an OpenAI function schema: {{type: function, function: {{name: ...}}}}")
    if not isinstance(schema["function"].get("name"), str) or not schema["function"]["name"]:
        raise ConfigFileError(f"{where}.function.name must be a non-empty string")
    parameters = schema["function"].get("parameters", {"type": "object"})
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise ConfigFileError(f"{where}.function.parameters must be a JSON schema of type object")
    return schema


def tool_schemas(path: str | Path) -> list[dict[str, Any]]:
    """The OpenAI function schemas of a tool config file's ``tools`` entries, checked, names unique."""
    schemas = [_check_schema(path, index, entry.get("tool_schema")) for index, entry in enumerate(read_entries(path, "tools"))]
    names = [schema["function"]["name"] for schema in schemas]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigFileError(f"{path}: tool names must be unique, {duplicates} appear more than once")
    return schemas
