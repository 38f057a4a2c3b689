"""Loading a tokenizer folder as the class it declares (the driver and the workers must agree on it)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_tokenizer"]


def load_tokenizer(path: str | Path, trust_remote_code: bool = False):
    """The tokenizer in folder `path`, of the class its ``tokenizer_config.json`` declares.

    transformers 5's `AutoTokenizer` swaps a generic fast tokenizer for the model type's own class when the
    folder's ``config.json`` is, e.g., a Qwen2 (so the maze's 32-word tokenizer beside a small Qwen2 would be
    read as Qwen2's byte-level BPE and turn a maze prompt into one token). A folder that declares the generic
    class gets exactly that class; any other goes through `AutoTokenizer`.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = Path(path) / "tokenizer_config.json"
    declared = json.loads(config_file.read_text()).get("tokenizer_class") if config_file.is_file() else None
    if declared in ("PreTrainedTokenizerFast", "TokenizersBackend"):
        return PreTrainedTokenizerFast.from_pretrained(path)
    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
