"""Train a classifier with cross-entropy or a sampling-based RL objective, and track exact pass@k.

Usage (one process, or one per GPU through torchrun; overrides are ``key=value``, see ``config.py``)::

    python -m maxrl.tasks.vision.train data.name=gaussian_mixture objective.name=maxrl objective.num_rollouts=128
    torchrun --standalone --nproc_per_node=8 -m maxrl.tasks.vision.train data.name=imagenet \\
        data.data_dir=/data/imagenet-1k-256x256 objective.num_rollouts=1024 trainer.output_dir=/ckpt/maxrl

Outputs under ``trainer.output_dir``: ``metrics.jsonl`` (train metrics every ``log_every`` steps; ``val/acc``,
``val/loss``, ``val/pass@k`` at step 0, every ``eval_every`` steps and at the end), ``config.yaml``,
``checkpoints/latest.pt`` and ``final_metrics.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel

from maxrl.tasks.vision.checkpoint import load_checkpoint, save_checkpoint
from maxrl.tasks.vision.config import build_config
from maxrl.tasks.vision.data import (
    build_eval_loader,
    build_train_loader,
    load_classification_data,
    per_rank_batch_size,
    to_device,
)
from maxrl.tasks.vision.distributed import DistInfo, barrier, init_distributed, shutdown_distributed
from maxrl.tasks.vision.metrics import ClassificationMeter, powers_of_two_up_to
from maxrl.tasks.vision.models import build_model, default_model_name
from maxrl.tasks.vision.objectives import check_objective, estimator_knobs, objective_loss
from maxrl.tasks.vision.optim import build_optimizer, build_scheduler
from maxrl.trainer.tracking import Tracker, to_float
from maxrl.utils.atomic import write_text_atomic

logger = logging.getLogger(__name__)

# The console line of a classification run (the trainer's headlines LLM metrics); other val/* metrics follow it.
VISION_HEADLINE = {
    "train/loss": "loss",
    "train/acc": "acc",
    "rollout/reward_mean": "reward",
    "rollout/frac_images_with_success": "any_success",
    "train/lr": "lr",
    "timing_s/step": "step_s",
    "val/acc": "val_acc",
    "val/loss": "val_ce",
}


def sampling_seed(seed: int, rank: int, step: int) -> int:
    """A distinct, reproducible seed for the labels sampled by each rank at each step."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, dtype=np.uint64)[0] >> 1)


class VisionRun:
    """One training run; ``fit()`` reads as the algorithm: sample labels, advantage, update, evaluate, save."""

    def __init__(self, config: DictConfig, info: DistInfo):
        self.config, self.info, self.device = config, info, info.device
        trainer = config.trainer
        self.knobs = estimator_knobs(config.objective)
        check_objective(config.objective.name, config.objective.num_rollouts, **self.knobs)
        torch.manual_seed(trainer.seed)
        self.data = load_classification_data(config.data)
        self.model_name = default_model_name(config.data.name) if config.model.name == "auto" else config.model.name
        model = build_model(
            self.model_name, self.data.num_classes, self.data.input_shape, hidden=config.model.hidden,
            depth=config.model.depth, width=config.model.width, resnet_depth=config.model.resnet_depth,
        ).to(self.device)
        self.channels_last = config.model.channels_last and self.device.type == "cuda" and self.model_name != "mlp"
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if info.world_size > 1:
            model = DistributedDataParallel(model, device_ids=[info.local_rank] if self.device.type == "cuda" else None)
        self.model = model
        self.train_loader, self.sampler = build_train_loader(
            self.data.train, per_rank_batch_size(trainer.batch_size, info.world_size), info, trainer.seed,
            config.data.num_workers,
        )
        self.eval_loader = build_eval_loader(self.data.eval, trainer.eval_batch_size, info, config.data.num_workers)
        self.steps_per_epoch = len(self.train_loader)
        self.total_steps = trainer.max_steps or max(1, math.ceil(trainer.epochs * self.steps_per_epoch))
        warmup_steps = min(round(config.optim.warmup_epochs * self.steps_per_epoch), self.total_steps)
        self.optimizer = build_optimizer(self.model, config.optim)
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, warmup_steps)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if trainer.amp and self.device.type == "cuda" else nullcontext()
        )
        self.pass_ks = powers_of_two_up_to(trainer.pass_k_max)
        self.output_dir = Path(trainer.output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.step, wandb_run_id = self._maybe_resume()
        if info.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.output_dir / "config.yaml", OmegaConf.to_yaml(config))
        self.tracker = Tracker(
            trainer.logger if info.is_main else [], self.output_dir, trainer.project, trainer.experiment_name,
            OmegaConf.to_container(config), self.total_steps, self.step, wandb_run_id, headline=VISION_HEADLINE,
        )

    # ----------------------------------------------------------------------------------------- phases
    def _train_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        objective = self.config.objective
        self.model.train()
        generator = torch.Generator(device=self.device)
        generator.manual_seed(sampling_seed(self.config.trainer.seed, self.info.rank, self.step))
        with self.autocast:
            logits = self.model(images)
        loss, stats = objective_loss(objective.name, logits, labels, objective.num_rollouts, generator, **self.knobs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = self.config.optim.grad_clip or float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return {"train/loss": loss.detach(), "train/acc": accuracy, "train/grad_norm": grad_norm,
                "train/lr": lr, **stats}

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        self.model.eval()
        meter = ClassificationMeter(self.pass_ks)
        for batch in self.eval_loader:
            images, labels = to_device(batch, self.device, self.channels_last)
            with self.autocast:
                logits = self.model(images)
            meter.update(logits, labels)
        return {f"val/{name}": value for name, value in meter.compute().items()}

    def _save(self) -> None:
        if self.info.is_main:
            save_checkpoint(self.checkpoint_dir, {
                "step": self.step,
                "model": self._bare_model().state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "loader": self.train_loader.state_dict(),
                "wandb_run_id": self.tracker.wandb_run_id,
                "config": OmegaConf.to_container(self.config),
            })
        barrier()

    def _maybe_resume(self) -> tuple[int, str | None]:
        state = load_checkpoint(self.checkpoint_dir) if self.config.trainer.resume else None
        if state is None:
            return 0, None
        self._bare_model().load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["step"] % self.steps_per_epoch:
            self.sampler.set_epoch(state["step"] // self.steps_per_epoch)
            self.train_loader.load_state_dict(state["loader"])
        logger.info("resumed from %s at step %d", self.checkpoint_dir, state["step"])
        return state["step"], state.get("wandb_run_id")

    def _bare_model(self) -> torch.nn.Module:
        return self.model.module if isinstance(self.model, DistributedDataParallel) else self.model

    # ----------------------------------------------------------------------------------------- loop
    def fit(self) -> dict[str, float]:
        """Train to ``total_steps`` and return the last evaluation's metrics."""
        final: dict[str, float] = {}
        if self.step == 0:
            final = self._evaluate()
            self.tracker.log({"epoch": 0.0, **final}, step=0)
        self._last_log = (self.step, time.perf_counter())
        while self.step < self.total_steps:
            self.sampler.set_epoch(self.step // self.steps_per_epoch)
            for batch in self.train_loader:
                metrics = self._train_step(*to_device(batch, self.device, self.channels_last))
                self.step += 1
                final = self._log_evaluate_save(metrics) or final
                if self.step >= self.total_steps:
                    break
        if not final:  # resumed at the very end: report the evaluation again
            final = self._evaluate()
        if self.info.is_main:
            summary = {"step": self.step, "objective": self.config.objective.name,
                       "num_rollouts": self.config.objective.num_rollouts, **final}
            write_text_atomic(self.output_dir / "final_metrics.json", json.dumps(summary, indent=2) + "\n")
        self.tracker.close()
        return final

    def _log_evaluate_save(self, metrics: dict[str, torch.Tensor]) -> dict[str, float]:
        """After a step: log train metrics, evaluate and checkpoint when due; returns the evaluation, if any."""
        trainer, done = self.config.trainer, self.step >= self.total_steps
        record: dict[str, float] = {}
        if self.step % trainer.log_every == 0 or done:
            now = time.perf_counter()
            record = {key: to_float(value) for key, value in metrics.items()}
            record["timing_s/step"] = (now - self._last_log[1]) / (self.step - self._last_log[0])
        evaluation = self._evaluate() if self.step % trainer.eval_every == 0 or done else {}
        if record or evaluation:
            self.tracker.log({"epoch": self.step / self.steps_per_epoch, **record, **evaluation}, step=self.step)
        if trainer.save_every and (self.step % trainer.save_every == 0 or done):
            self._save()
        if record or evaluation:
            self._last_log = (self.step, time.perf_counter())  # step time excludes evaluation and saving
        return evaluation


def train(config: DictConfig) -> dict[str, float]:
    """Run (or resume) one training run in this process / torchrun rank and return its final eval metrics."""
    info = init_distributed(config.trainer.device)
    try:
        return VisionRun(config, info).fit()
    finally:
        shutdown_distributed()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(argv):
        sys.stdout.write(__doc__ + "\nKeys and defaults:\n\n" + OmegaConf.to_yaml(build_config()) + "\n")
        return
    logging.basicConfig(level=os.environ.get("LOGLEVEL", "INFO"), format="%(asctime)s %(name)s: %(message)s")
    config = build_config(argv)
    if config.trainer.dry_run:
        sys.stdout.write(OmegaConf.to_yaml(config))
        return
    train(config)


if __name__ == "__main__":
    main()
