"""docs/config.md is written from the schema and the YAML defaults; the committed file must be current."""

from maxrl.config.reference import REFERENCE, cell, render
from maxrl.config.schema import schema_keys


def test_the_committed_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == render(), "run: python -m maxrl.config.reference"


def test_every_key_has_a_row_with_its_default_and_help():
    text = render()
    for path, key in schema_keys().items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{path}` |"))
        assert cell(key.help) in row
    assert "| `data.train_batch_size` | int | `1024` | a positive integer |" in text
    assert "| `trainer.logger` | any | `[console, file]` |" in text
