"""Settings of the supervised warm start, as one dataclass that also defines the command line.

Defaults are the paper's (arXiv 2602.02710, maze experiment; docs/maze.md): a 3.9M-parameter Qwen2, AdamW 5e-4 (0.9, 0.95), weight
decay 0.01, cosine schedule without warm-up over 10 epochs, batch 32 in micro-batches of 8, clip 1.0.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path


def _opt(help_text: str, **kwargs):
    return field(metadata={"help": help_text}, **kwargs)


@dataclass
class SFTConfig:
    """Everything ``train_sft`` needs; ``python maze/sft.py --help`` lists the same fields."""

    train_data: str = _opt("training mazes: paper JSON (train.json) or verl parquet (train.parquet)", default="")
    test_data: str = _opt("test mazes (same formats) for evaluation", default="")
    output_dir: str = _opt("checkpoints (checkpoint-<step>/) and metrics.jsonl go here", default="")

    init_from: str | None = _opt("start from this HF model folder instead of a fresh model", default=None)
    hidden_size: int = _opt("model width", default=256)
    num_layers: int = _opt("transformer blocks", default=4)
    num_heads: int = _opt("attention heads", default=4)
    num_kv_heads: int = _opt("key/value heads (grouped-query attention)", default=2)
    intermediate_size: int = _opt("MLP width", default=1024)
    rope_theta: float = _opt("RoPE base", default=1e6)
    max_length: int = _opt("longest sequence in tokens (also the model's max positions)", default=512)

    learning_rate: float = _opt("AdamW peak learning rate", default=5e-4)
    adam_betas: tuple[float, float] = _opt("AdamW betas", default=(0.9, 0.95))
    weight_decay: float = _opt("AdamW weight decay", default=0.01)
    lr_scheduler: str = _opt("cosine or constant", default="cosine")
    warmup_ratio: float = _opt("fraction of the steps with a linear warm-up", default=0.0)
    grad_clip: float = _opt("clip the global gradient norm to this (0 = off)", default=1.0)
    batch_size: int = _opt("mazes per optimiser step", default=32)
    micro_batch_size: int = _opt("mazes per forward/backward pass (memory knob; same maths)", default=8)
    num_epochs: float = _opt("passes over the training set (the schedule length unless max_steps is set)", default=10.0)
    max_steps: int | None = _opt("stop after this many steps; sets the schedule length", default=None)

    eval_every: int = _opt("evaluate every this many steps (0 = only at the end)", default=250)
    eval_at_start: bool = _opt("also evaluate before the first step", default=False)
    eval_num_mazes: int = _opt("evaluate on the first this many test mazes (0 = all)", default=256)
    eval_n: int = _opt("answers sampled per test maze", default=8)
    eval_ks: tuple[int, ...] = _opt("report pass@k for these k (each <= eval_n)", default=(1, 2, 4, 8))
    eval_temperature: float = _opt("sampling temperature for evaluation", default=1.0)
    eval_batch_size: int = _opt("sequences per generate() call", default=256)

    save_every: int = _opt("checkpoint every this many steps (0 = only at the end)", default=500)
    keep_last: int = _opt("keep this many newest checkpoints (0 = keep all)", default=3)
    resume: bool = _opt("continue from the newest checkpoint in output_dir if there is one", default=True)

    seed: int = _opt("model initialisation, data order and evaluation sampling", default=0)
    device: str = _opt("auto, cpu, cuda or cuda:<i>", default="auto")
    autocast_dtype: str = _opt("float32, or bfloat16 to compute in bf16 (fp32 weights; best on GPU)", default="float32")
    num_threads: int | None = _opt("torch CPU threads (default: torch's choice)", default=None)
    log_every: int = _opt("log training metrics every this many steps", default=10)
    progress: bool = _opt("show a progress bar", default=True)

    def validate(self) -> SFTConfig:
        """Fail fast, before any data is read, with the name of the setting to fix."""
        for name in ("train_data", "test_data", "output_dir"):
            if not getattr(self, name):
                raise ValueError(f"SFT config: {name} is required (--{name.replace('_', '-')})")
        for name in ("train_data", "test_data"):
            path = Path(getattr(self, name))
            if not path.is_file() or path.suffix not in (".json", ".parquet"):
                raise ValueError(f"SFT config: {name}={path} must be an existing .json or .parquet file")
        if self.batch_size < 1 or self.micro_batch_size < 1 or self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"SFT config: batch_size ({self.batch_size}) must be a positive multiple of micro_batch_size "
                f"({self.micro_batch_size})"
            )
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"SFT config: hidden_size ({self.hidden_size}) must divide by num_heads ({self.num_heads}) and "
                f"num_heads by num_kv_heads ({self.num_kv_heads})"
            )
        if self.lr_scheduler not in ("cosine", "constant"):
            raise ValueError(f"SFT config: lr_scheduler must be cosine or constant, got {self.lr_scheduler!r}")
        if self.autocast_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"SFT config: autocast_dtype must be float32 or bfloat16, got {self.autocast_dtype!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"SFT config: max_steps must be >= 1, got {self.max_steps}")
        if self.max_steps is None and self.num_epochs <= 0:
            raise ValueError(f"SFT config: num_epochs must be > 0 (or set max_steps), got {self.num_epochs}")
        if self.eval_n < 1 or not self.eval_ks or any(k < 1 or k > self.eval_n for k in self.eval_ks):
            raise ValueError(f"SFT config: every eval_ks value must lie in [1, eval_n={self.eval_n}], got {self.eval_ks}")
        return self


def cpu_quickstart(train_data: str, test_data: str, output_dir: str, **overrides) -> SFTConfig:
    """The measured CPU warm start for 7x7 mazes (docs/maze.md): a 0.5M-parameter model, 250 steps,
    87 CPU-seconds of training on one thread, ending at 30% pass@1 / 81% pass@16 on 32 unseen mazes."""
    settings = dict(
        train_data=train_data,
        test_data=test_data,
        output_dir=output_dir,
        hidden_size=128,
        intermediate_size=512,
        num_layers=2,
        batch_size=32,
        micro_batch_size=32,
        learning_rate=1e-3,
        max_steps=250,
        eval_every=50,
        eval_n=16,
        eval_ks=(1, 4, 16),
        save_every=250,
        num_threads=1,
    )
    return SFTConfig(**{**settings, **overrides})


def _argument_kind(hint) -> dict:
    """argparse ``type``/``nargs`` for a field's type hint (optional -> inner type, tuples -> nargs)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _argument_kind(args[0])
    if typing.get_origin(hint) is tuple:
        return {"type": args[0], "nargs": "+" if args[-1] is Ellipsis else len(args)}
    return {"type": hint}


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser with one ``--kebab-case`` option per ``SFTConfig`` field."""
    parser = argparse.ArgumentParser(description="Supervised warm start of a small Qwen2 on maze data.")
    hints = typing.get_type_hints(SFTConfig)
    for f in dataclasses.fields(SFTConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = _argument_kind(hints[f.name])
        if kind["type"] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            parser.add_argument(flag, default=f.default, help=f.metadata["help"] + " (default: %(default)s)", **kind)
    return parser


def config_from_args(argv: list[str] | None = None) -> SFTConfig:
    args = vars(build_parser().parse_args(argv))
    args = {key: tuple(value) if isinstance(value, list) else value for key, value in args.items()}
    return SFTConfig(**args).validate()
