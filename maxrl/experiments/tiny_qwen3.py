"""A tiny, randomly initialised Qwen3 with the real Qwen3 tokenizer, for CPU runs of the Qwen3 path.

The Qwen3 experiment trains Qwen3-1.7B/4B-Base; on a CPU the same code path (Qwen3 architecture, the real
151k-token vocabulary and chat template, FSDP2 sharding, HF rollout) is exercised with a model of the same
family but a few million parameters, built from a `Qwen3Config` (nothing is downloaded).

    python -m maxrl.utils.offline_models qwen3-tokenizer --out models/qwen3-tokenizer
    python -m maxrl.experiments.tiny_qwen3 --tokenizer models/qwen3-tokenizer --out models/tiny-qwen3
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from transformers import AutoTokenizer

from maxrl.utils.tiny_models import build_tiny_causal_lm

log = logging.getLogger(__name__)


def build_tiny_qwen3_dir(tokenizer_dir: str | Path, out_dir: str | Path, **model_kwargs) -> Path:
    """Write the tokenizer from `tokenizer_dir` and a matching tiny Qwen3 into `out_dir` (in one rename)."""
    out_dir = Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
        raise ValueError(f"{tokenizer_dir}: the tokenizer needs a pad and an eos token (a Qwen3 tokenizer has both)")
    model = build_tiny_causal_lm(
        len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        architecture="qwen3", max_position_embeddings=2048, **model_kwargs,
    )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.replace(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("tiny Qwen3 (%.1fM parameters, vocabulary %d) written to %s",
             sum(p.numel() for p in model.parameters()) / 1e6, len(tokenizer), out_dir)
    return out_dir


def main(argv: Sequence[str] | None = None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", required=True, help="folder with the Qwen3 tokenizer")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return build_tiny_qwen3_dir(args.tokenizer, args.out, hidden_size=args.hidden_size,
                                num_layers=args.num_layers, seed=args.seed)


if __name__ == "__main__":
    main()
