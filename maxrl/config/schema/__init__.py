"""The config schema: one typed section object per section of the YAML tree, with a help string and the
single-value rule of every key. The YAML files hold the defaults; this package says what each key is."""

from maxrl.config.schema.keys import Key, Section, schema_keys, schema_sections
from maxrl.config.schema.root import MaxrlConfig
from maxrl.config.schema.validate import field_problems, show, typed_config

__all__ = ["Key", "MaxrlConfig", "Section", "field_problems", "schema_keys", "schema_sections", "show", "typed_config"]
