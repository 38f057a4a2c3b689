"""The calculator task's supervised warm start: synthetic transcripts, tokenized exactly as episodes are.

A fraction ``--tool-fraction`` of the transcripts calls the calculator and copies its answer; the rest
answer at once with the true product, which a tiny model can only guess. The warm-started model therefore
calls the tool on about that fraction of problems and is right mostly when it does: RL has a tool-call
rate and a pass rate to raise. Transcripts are built from token ids the way the agent loop builds an
episode (`maxrl.agents.turns.TurnRenderer` for the tool's turn), and only the model's tokens are trained.

    python -m maxrl.tasks.calculator.warm_start --data data/calculator/train.parquet --output-dir sft
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path

import torch

from maxrl.agents.calculator import CALCULATOR_SCHEMA
from maxrl.agents.turns import TurnRenderer
from maxrl.tasks.calculator.data import question
from maxrl.tasks.calculator.tokenizer import CALL_PREFIX, CALL_SUFFIX, build_tokenizer
from maxrl.utils.tiny_models import build_tiny_causal_lm

__all__ = ["transcript", "train", "main"]

logger = logging.getLogger(__name__)
IGNORE = -100


def tool_call_text(a: int, b: int) -> str:
    return f"<tool_call>{CALL_PREFIX}{a}*{b}{CALL_SUFFIX}</tool_call>"


def transcript(a: int, b: int, use_tool: bool, tokenizer, renderer: TurnRenderer) -> tuple[list[int], list[int]]:
    """``(token ids, labels)`` of one conversation; labels are -100 on the prompt and on inserted tokens."""
    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    prompt = encode(tokenizer.apply_chat_template([{"role": "user", "content": question(a, b)}],
                                                  tools=[CALCULATOR_SCHEMA], add_generation_prompt=True, tokenize=False))
    ids, labels = list(prompt), [IGNORE] * len(prompt)
    eos = tokenizer.eos_token_id
    if use_tool:
        call = encode(tool_call_text(a, b)) + [eos]
        answer = renderer.inserted_ids([{"role": "tool", "content": str(a * b)}], eos)
        ids += call + answer
        labels += call + [IGNORE] * len(answer)
    final = encode(f"#### {a * b}") + [eos]
    return ids + final, labels + final


def _batch(examples: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (tokens, targets) in enumerate(examples):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        labels[row, :len(targets)] = torch.tensor(targets)
        mask[row, :len(tokens)] = 1
    return ids, labels, mask


def train(pairs: list[tuple[int, int]], output_dir: Path, steps: int, tool_fraction: float, batch_size: int = 64,
          learning_rate: float = 1e-3, seed: int = 0, log_every: int = 100) -> Path:
    """Warm-start a small Qwen2 on transcripts of `pairs`; write it with its tokenizer to `output_dir`."""
    rng = random.Random(seed)
    tokenizer = build_tokenizer()
    renderer = TurnRenderer(tokenizer, apply_chat_template=True, tools=[CALCULATOR_SCHEMA])
    model = build_tiny_causal_lm(len(tokenizer), hidden_size=128, num_layers=4, num_heads=4, num_kv_heads=2,
                                 intermediate_size=384, seed=seed, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id, max_position_embeddings=256)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 50))
    model.train()
    started = time.monotonic()
    for step in range(1, steps + 1):
        chosen = [pairs[rng.randrange(len(pairs))] for _ in range(batch_size)]
        examples = [transcript(a, b, rng.random() < tool_fraction, tokenizer, renderer) for a, b in chosen]
        ids, labels, mask = _batch(examples, tokenizer.pad_token_id)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % log_every == 0 or step == steps:
            logger.info("warm start step %d/%d: loss %.4f (%.0f s)", step, steps, loss.item(), time.monotonic() - started)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    build_tokenizer(save_dir=output_dir)
    return output_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Supervised warm start of the calculator tool task.")
    parser.add_argument("--data", type=Path, required=True, help="training problems (maxrl.tasks.calculator.data)")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--tool-fraction", type=float, default=0.25, help="transcripts that call the calculator")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100, help="steps between loss lines")
    parser.add_argument("--num-threads", type=int, default=None,
                        help="torch threads (default: torch's; 1 is faster on a machine busy with other work)")
    args = parser.parse_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    if not 0 <= args.tool_fraction <= 1:
        parser.error(f"--tool-fraction={args.tool_fraction} must lie in [0, 1]")
    import pandas as pd

    info = pd.read_parquet(args.data, columns=["extra_info"])["extra_info"]
    pairs = [(int(row["a"]), int(row["b"])) for row in info]
    train(pairs, args.output_dir, args.steps, args.tool_fraction, args.batch_size, args.learning_rate, args.seed,
          args.log_every)
    logger.info("wrote the warm-started model to %s", args.output_dir)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
