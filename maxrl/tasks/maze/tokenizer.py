"""The paper's 32-word maze tokenizer, built in-process (no download).

Word-level model, whitespace pre-tokenizer, no post-processor (the text itself carries ``<bos>`` and
``<eos>``) and no decoder (decoding joins words with spaces). The ids are fixed so that models and data
made with the paper's code and with ours are interchangeable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, models, pre_tokenizers

from maxrl.tasks.maze.encoding import (
    ACTION_WORDS,
    BOS,
    DONE,
    EOS,
    GOAL,
    GRID_END,
    GRID_START,
    NEWLINE,
    OPEN,
    PAD,
    PATH_START,
    SPECIAL_TOKENS,
    START,
    UNK,
    WALL,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

NUM_RESERVED = 14
VOCAB: tuple[str, ...] = (
    *SPECIAL_TOKENS,
    GRID_START,
    GRID_END,
    PATH_START,
    DONE,
    OPEN,
    WALL,
    GOAL,
    START,
    NEWLINE,
    *ACTION_WORDS,
    "\n",
    *(f"RESERVED_{i}" for i in range(NUM_RESERVED)),
)
"""Word ``VOCAB[i]`` has id ``i`` (32 words)."""

MODEL_MAX_LENGTH = 512


def build_tokenizer(save_dir: str | Path | None = None) -> PreTrainedTokenizerFast:
    """The maze tokenizer; with ``save_dir`` also written as a folder ``AutoTokenizer`` loads.

    transformers is imported here, not at module level, so that the generator and the verifier (imported
    by every reward worker process) stay light.
    """
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab={word: i for i, word in enumerate(VOCAB)}, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )
    if save_dir is not None:
        save_tokenizer(tokenizer, save_dir)
    return tokenizer


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, save_dir: str | Path) -> None:
    """``save_pretrained``, then name the class ``PreTrainedTokenizerFast`` in ``tokenizer_config.json``.

    transformers 5 writes its own class name (``TokenizersBackend``), which the transformers 4.x used by
    the paper's code cannot resolve; ``PreTrainedTokenizerFast`` loads in both.
    """
    tokenizer.save_pretrained(str(save_dir))
    config_path = Path(save_dir) / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
