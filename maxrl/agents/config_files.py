"""The tool and interaction config files, in verl's format, read and checked before anything starts.

Tools (``multi_turn.tool_config_path``)::

    tools:
      - class_name: maxrl.tasks.calculator.tool.CalculatorTool   # a subclass of maxrl.agents.Tool
        config: {}                                               # given to its constructor
        tool_schema:                                             # OpenAI function schema, shown to the model
          type: function
          function: {name: calculator, description: ..., parameters: {type: object, properties: ...}}

Interactions (``multi_turn.interaction_config_path``)::

    interaction:
      - name: maze_feedback                                      # rows choose one by extra_info.interaction_kwargs.name
        class_name: maxrl.tasks.maze.attempts.MazeFeedback       # a subclass of maxrl.agents.Interaction
        config: {}

Every problem is reported with the file, the entry and the field to fix.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maxrl.agents.base import Interaction, Tool
from maxrl.data.tool_schemas import ConfigFileError, read_entries, tool_schemas

__all__ = ["AgentConfigError", "InteractionSpec", "ToolSpec", "import_class", "load_interaction_specs", "load_tool_specs"]


class AgentConfigError(ConfigFileError):
    """A tool or interaction config that cannot be used; the message names the file, entry and fix."""


@dataclass(frozen=True)
class ToolSpec:
    class_name: str
    schema: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.schema["function"]["name"]

    def build(self) -> Tool:
        return import_class(self.class_name, Tool, "class_name")(dict(self.config), self.schema)


@dataclass(frozen=True)
class InteractionSpec:
    name: str
    class_name: str
    config: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Interaction:
        return import_class(self.class_name, Interaction, "class_name")(dict(self.config))


def import_class(dotted: str, base: type, key: str) -> type:
    """The class at ``package.module.Class``, which must subclass `base`."""
    module_name, _, class_name = str(dotted).rpartition(".")
    if not module_name:
        raise AgentConfigError(f"{key}={dotted!r}: give the full import path, e.g. mypackage.tools.MyTool")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise AgentConfigError(f"{key}={dotted!r}: cannot import module {module_name!r} ({error})") from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise AgentConfigError(
            f"{key}={dotted!r}: {'no class ' + class_name if cls is None else repr(cls)} in {module_name}; "
            f"it must be a subclass of maxrl.agents.{base.__name__}"
        )
    return cls


def load_tool_specs(path: str | Path) -> list[ToolSpec]:
    """The tools of a verl tool config file, each class imported and checked; names must be unique."""
    specs = []
    for index, (entry, schema) in enumerate(zip(read_entries(path, "tools"), tool_schemas(path))):
        spec = ToolSpec(entry["class_name"], schema, dict(entry.get("config") or {}))
        import_class(spec.class_name, Tool, f"{path}: tools[{index}].class_name")
        specs.append(spec)
    return specs


def load_interaction_specs(path: str | Path) -> list[InteractionSpec]:
    """The interactions of a verl interaction config file, each class imported and checked; an entry without a
    ``name`` is named after its class, and names must be unique."""
    specs = []
    for index, entry in enumerate(read_entries(path, "interaction")):
        name = entry.get("name") or entry["class_name"].rpartition(".")[2]
        spec = InteractionSpec(str(name), entry["class_name"], dict(entry.get("config") or {}))
        import_class(spec.class_name, Interaction, f"{path}: interaction[{index}].class_name")
        specs.append(spec)
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AgentConfigError(f"{path}: interaction names must be unique, {duplicates} appear more than once")
    return specs
