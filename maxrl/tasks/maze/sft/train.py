"""The supervised warm-start loop: next-token cross-entropy on the answer tokens of maze sequences.

Each optimiser step takes ``batch_size`` mazes, runs them in micro-batches, and divides the summed loss by
the number of answer tokens in the whole batch, so the gradient does not depend on the micro-batch size.
Evaluation samples answers and scores them with the RL verifier; metrics go to ``metrics.jsonl``.

    from maxrl.tasks.maze.sft import SFTConfig, train_sft
    checkpoint = train_sft(SFTConfig(train_data=..., test_data=..., output_dir=..., max_steps=300))
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

from maxrl.tasks.maze.sft.checkpoint import list_checkpoints, load_trainer_state, save_checkpoint
from maxrl.tasks.maze.sft.config import SFTConfig, config_from_args
from maxrl.tasks.maze.sft.data import TokenizedMazes, batch_rows, steps_per_epoch
from maxrl.tasks.maze.sft.evaluate import answer_loss_sum, evaluate_loss, evaluate_sampling
from maxrl.tasks.maze.sft.model import build_model, count_parameters

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"SFT config: device={name} but CUDA is not available (use --device cpu)")
    return device


def total_steps(config: SFTConfig, num_train: int) -> int:
    """Schedule length: ``max_steps`` if set, else ``num_epochs`` passes of full batches."""
    if config.max_steps is not None:
        return config.max_steps
    return max(1, math.ceil(config.num_epochs * steps_per_epoch(num_train, config.batch_size)))


class SFTTrainer:
    """Holds the model, data, optimiser and schedule; ``run()`` trains to the last step."""

    def __init__(self, config: SFTConfig):
        self.config = config.validate()
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.device = resolve_device(config.device)
        self.output_dir = Path(config.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.train = TokenizedMazes.load(config.train_data, config.max_length)
        self.test = TokenizedMazes.load(config.test_data, config.max_length)
        self.total_steps = total_steps(config, len(self.train))
        steps_per_epoch(len(self.train), config.batch_size)  # fail now if the data cannot fill one batch
        count = config.eval_num_mazes or len(self.test)
        self.eval_rows = np.arange(min(count, len(self.test)))
        self.step = 0
        checkpoints = list_checkpoints(self.output_dir) if config.resume else []
        resume_from = checkpoints[-1] if checkpoints else None
        if resume_from is not None:
            config = dataclasses.replace(config, init_from=str(resume_from))
        self.model = build_model(config).to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=config.learning_rate,
            betas=tuple(config.adam_betas),
            weight_decay=config.weight_decay,
        )
        warmup = int(config.warmup_ratio * self.total_steps)
        if config.lr_scheduler == "cosine":
            self.scheduler = get_cosine_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
        else:
            self.scheduler = get_constant_schedule_with_warmup(self.optimizer, warmup)
        if resume_from is not None:
            self._restore(resume_from)
        logger.info(
            "maze SFT: %d train / %d eval mazes, %.2fM parameters, %d steps on %s%s",
            len(self.train),
            len(self.eval_rows),
            count_parameters(self.model) / 1e6,
            self.total_steps,
            self.device,
            f", resumed at step {self.step} from {resume_from}" if resume_from else "",
        )

    def _restore(self, path: Path) -> None:
        state = load_trainer_state(path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])

    def _autocast(self):
        if self.config.autocast_dtype == "bfloat16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> dict[str, float]:
        """One optimiser step over ``batch_size`` mazes, accumulated over micro-batches."""
        config = self.config
        self.model.train()
        rows = batch_rows(self.step, len(self.train), config.batch_size, config.seed)
        num_tokens = int(sum(self.train.lengths[rows] - self.train.answer_starts[rows]))
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for begin in range(0, len(rows), config.micro_batch_size):
            batch = self.train.collate(rows[begin : begin + config.micro_batch_size])
            batch = {key: value.to(self.device) for key, value in batch.items()}
            with self._autocast():
                loss_sum, _ = answer_loss_sum(self.model, batch)
            (loss_sum / num_tokens).backward()
            total += float(loss_sum.detach())
        max_norm = config.grad_clip if config.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return {"train/loss": total / num_tokens, "train/grad_norm": float(grad_norm), "train/lr": lr}

    def evaluate(self) -> dict[str, float]:
        config = self.config
        torch.manual_seed(config.seed + self.step)  # same samples for the same weights
        with self._autocast():
            metrics = evaluate_sampling(
                self.model,
                self.test,
                self.eval_rows,
                config.eval_n,
                tuple(config.eval_ks),
                config.eval_temperature,
                config.eval_batch_size,
                self.device,
            )
            metrics["loss"] = evaluate_loss(self.model, self.test, self.eval_rows, config.eval_batch_size, self.device)
        return {f"eval/{key}": value for key, value in metrics.items()}

    def save(self) -> Path:
        state = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "config": dataclasses.asdict(self.config),
        }
        return save_checkpoint(self.output_dir, self.step, self.model, state, self.config.keep_last)

    def log(self, metrics: dict[str, float]) -> None:
        record = {"step": self.step, "time": round(time.time(), 3), **metrics}
        with open(self.output_dir / METRICS_FILE, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        logger.info("step %d: %s", self.step, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    def run(self) -> Path:
        """Train from the current step to the last; returns the final checkpoint folder."""
        config = self.config
        if config.eval_at_start and self.step == 0:
            self.log(self.evaluate())
        last_saved = list_checkpoints(self.output_dir)[-1] if self.step == self.total_steps else None
        bar = tqdm(total=self.total_steps, initial=self.step, desc="maze SFT", unit="step", disable=not config.progress)
        began, cpu_began = time.perf_counter(), time.process_time()
        with bar:
            while self.step < self.total_steps:
                metrics = self.train_step()
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['train/loss']:.4f}", lr=f"{metrics['train/lr']:.2e}")
                done = self.step == self.total_steps
                if config.eval_every and self.step % config.eval_every == 0 or done:
                    metrics |= self.evaluate()
                    metrics["time/elapsed_s"] = time.perf_counter() - began
                    metrics["time/process_cpu_s"] = time.process_time() - cpu_began
                    self.log(metrics)
                elif self.step % config.log_every == 0:
                    self.log(metrics)
                if config.save_every and self.step % config.save_every == 0 or done:
                    last_saved = self.save()
        return last_saved


def train_sft(config: SFTConfig) -> Path:
    """Train (or resume) a maze warm start; returns the final checkpoint folder (an HF model folder)."""
    return SFTTrainer(config).run()


def main(argv: list[str] | None = None) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    checkpoint = train_sft(config_from_args(argv))
    logger.info("final checkpoint: %s", checkpoint)
    return checkpoint
