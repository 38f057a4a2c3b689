"""`CriticWorker`: PPO's value model (``critic.*``), one process per device, FSDP2-sharded.

The critic is a `Critic` (model, AdamW, schedule, loss scaler; everything under one attribute) and the
worker exposes its four driver calls: `compute_values`, `update_critic` and the critic's checkpoints.
Where it runs is ``critic.colocate``: true puts it into the actor's processes (`ActorCriticWorker`,
``maxrl.workers.actor_critic_worker``: one worker group, as verl fuses its roles per device); false gives
it a worker group of its own on a second resource pool of the same shape.

It reuses the actor's building blocks: `maxrl.workers.fsdp` (sharding, CPU offload), `optim` (AdamW,
schedule, scaler), `micro_batches` / `critic_sizes` (batch sizes), `checkpoint` (sharded, pickle-free).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from omegaconf import DictConfig

from maxrl.controller.methods import data_parallel, on_all_ranks
from maxrl.data.batch import Batch
from maxrl.workers.checkpoint import load_sharded, save_sharded
from maxrl.workers.critic_sizes import resolve_critic_batch_sizes
from maxrl.workers.fsdp import build_device_mesh, offload_policy, shard_model, worker_device
from maxrl.workers.hf_model import parse_dtype
from maxrl.workers.optim import build_grad_scaler, build_lr_scheduler, build_optimizer
from maxrl.workers.value_model import load_value_model, response_values
from maxrl.workers.value_update import ValueLoss, update_values

__all__ = ["Critic", "CriticWorker"]


class Critic:
    """The value model and its optimizer state on this rank."""

    def __init__(self, config: DictConfig):
        critic = config.critic
        self.config = critic
        self.device = worker_device()
        self.sizes = resolve_critic_batch_sizes(config, dist.get_world_size())
        compute_dtype = parse_dtype(critic.dtype, "critic.dtype")
        model = load_value_model(critic.model)
        if critic.model.enable_gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        fsdp_config = critic.model.fsdp_config
        self.model = shard_model(
            model,
            build_device_mesh(self.device),
            compute_dtype,
            reshard_after_forward=bool(fsdp_config.reshard_after_forward),
            offload=offload_policy(fsdp_config, self.device, "critic.model"),
        )
        self.optimizer = build_optimizer(self.model.parameters(), critic.optim)
        self.lr_scheduler = build_lr_scheduler(self.optimizer, critic.optim)
        self.grad_scaler = build_grad_scaler(compute_dtype, self.device)
        self.loss = ValueLoss.from_config(critic)

    @torch.no_grad()
    def values(self, batch: Batch) -> torch.Tensor:
        """``[N, R]`` values of the response tokens (0 outside the response mask)."""
        self.model.eval()
        batch = batch.to(self.device)
        order = self.sizes.forward_micro_batching.plan(batch)
        parts = [response_values(self.model, batch.reorder(rows)) for rows in order]
        values = torch.empty_like(torch.cat(parts))
        values[torch.cat(order).to(values.device)] = torch.cat(parts)
        return (values * batch["response_mask"]).cpu()

    def update(self, batch: Batch) -> dict[str, float]:
        metrics = update_values(
            self.model,
            self.optimizer,
            batch.to(self.device),
            self.loss,
            mini_batch_per_device=self.sizes.mini_batch_per_device,
            micro_batching=self.sizes.update_micro_batching,
            ppo_epochs=int(self.config.ppo_epochs),
            grad_clip=self.config.grad_clip,
            scaler=self.grad_scaler,
        )
        metrics["critic/lr"] = self.lr_scheduler.get_last_lr()[0]
        self.lr_scheduler.step()
        return metrics

    def _contents(self, key: str) -> set[str]:
        return set(self.config.checkpoint[key])

    def save(self, path: str) -> None:
        optimizer = self.optimizer if "optimizer" in self._contents("save_contents") else None
        extra = {
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "grad_scaler": None if self.grad_scaler is None else self.grad_scaler.state_dict(),
        }
        save_sharded(path, self.model, optimizer, extra)

    def load(self, path: str) -> None:
        contents = self._contents("load_contents")
        extra = load_sharded(path, self.model, self.optimizer if "optimizer" in contents else None)
        if "extra" in contents:
            self.lr_scheduler.load_state_dict(extra["lr_scheduler"])
            if self.grad_scaler is not None and extra["grad_scaler"] is not None:
                self.grad_scaler.load_state_dict(extra["grad_scaler"])


class CriticWorker:
    """The driver's calls on the critic; a worker class of its own, or mixed into the actor's."""

    def __init__(self, config: DictConfig):
        self.critic = Critic(config)

    @data_parallel
    def compute_values(self, batch: Batch) -> Batch:
        """``values`` ``[N, R]``: V of the state before each response token."""
        return Batch({"values": self.critic.values(batch)})

    @data_parallel
    def update_critic(self, batch: Batch) -> dict[str, float]:
        """One critic training step on this rank's shard (laid out by `batch_sizes.update_order` with the
        critic's mini-batch size); metrics are global and equal on every rank."""
        return self.critic.update(batch)

    @on_all_ranks
    def save_critic_checkpoint(self, path: str) -> None:
        """Sharded value model, optimizer and schedule into folder `path` (all ranks, shared filesystem)."""
        self.critic.save(path)

    @on_all_ranks
    def load_critic_checkpoint(self, path: str) -> None:
        """Restore what `save_critic_checkpoint` wrote."""
        self.critic.load(path)
