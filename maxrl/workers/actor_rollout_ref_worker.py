"""`ActorRolloutRefWorker`: the policy's three roles in one process per device.

* actor: the FSDP2-sharded policy with its AdamW optimizer and learning-rate schedule
  (`compute_log_prob`, `update_actor`, checkpoints, Hugging Face export);
* rollout: a generation backend chosen by ``actor_rollout_ref.rollout.name`` (`generate_sequences`),
  given the actor's current weights before each generation that follows a weight change;
* reference: a frozen FSDP2 copy of the initial policy (`compute_ref_log_prob`), built only when a KL
  term is on (``actor.use_kl_loss`` or ``algorithm.use_kl_in_reward``). With LoRA
  (``model.lora_rank`` > 0, `maxrl.workers.lora`) there is no copy: the reference is the actor with its
  adapters switched off, only the adapters train, the rollouts receive the merged weights and checkpoints
  hold the adapters.

The worker assumes torch.distributed is initialised (the controller's `WorkerGroup` does it). Every
method is called on all ranks at once: they run collectives. Batch methods take this rank's shard and
return only the fields they add; the driver joins them to its batch with `Batch.union`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import nullcontext

import torch
import torch.distributed as dist
from omegaconf import DictConfig

from maxrl.controller.methods import data_parallel, on_all_ranks
from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import resolve_batch_sizes
from maxrl.workers.checkpoint import export_hf_folder, load_sharded, save_sharded
from maxrl.workers.fsdp import build_device_mesh, offload_policy, shard_model, worker_device
from maxrl.workers.hf_model import load_causal_lm, load_tokenizer, parse_dtype, saved_dtype
from maxrl.workers.log_probs import ForwardOptions, micro_batched_log_probs
from maxrl.workers.lora import LoraSettings, adapters_disabled, add_adapters, merged_parameters
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.optim import build_grad_scaler, build_lr_scheduler, build_optimizer
from maxrl.workers.policy_update import PolicyLoss, update_policy
from maxrl.workers.rollout.sampling import sampling_distribution
from maxrl.workers.rollout.vllm_sync_check import check_weight_sync, default_tolerance
from maxrl.workers.rollout_sampler import Sampler

__all__ = ["ActorRolloutRefWorker"]



class ActorRolloutRefWorker:
    """Actor, rollout and (optional) reference policy sharing one process per device."""

    def __init__(self, config: DictConfig):
        self.config = config
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.batch_sizes = resolve_batch_sizes(config, self.world_size)
        aref = config.actor_rollout_ref
        self.device = worker_device()
        self.mesh = build_device_mesh(self.device)
        self.compute_dtype = parse_dtype(aref.actor.dtype, "actor_rollout_ref.actor.dtype")
        self.tokenizer = load_tokenizer(aref.model)
        self.export_dtype = saved_dtype(aref.model)
        self.base_seed = int(config.trainer.seed)

        self.lora = LoraSettings.from_config(aref.model)
        self.adapted = None  # peft's wrapper of the actor, with LoRA
        self.actor = self._build_policy(trainable=True)
        trainable = [parameter for parameter in self.actor.parameters() if parameter.requires_grad]
        self.optimizer = build_optimizer(trainable, aref.actor.optim)
        self.lr_scheduler = build_lr_scheduler(self.optimizer, aref.actor.optim)
        self.grad_scaler = build_grad_scaler(self.compute_dtype, self.device)
        self.policy_loss = PolicyLoss.from_config(config)
        self.forward_options = ForwardOptions.from_config(config)
        kl_on = bool(aref.actor.use_kl_loss) or bool(config.algorithm.use_kl_in_reward)
        self.kl_on = kl_on
        self.ref = self._build_policy(trainable=False) if kl_on and self.lora is None else None

        # With ``rollout.placement=separate`` a `RolloutWorker` group samples and this worker holds no engine.
        colocated = aref.rollout.placement == "colocated"
        self.sampler = Sampler(config, self.tokenizer, self.device, self.rank, self.base_seed) if colocated else None
        self.rollout = self.sampler.engine if colocated else None
        self._weights_version = 0  # bumped whenever the actor's weights change
        self._rollout_version = -1  # the version the rollout backend holds

    # ------------------------------------------------------------------ construction
    def _build_policy(self, trainable: bool) -> torch.nn.Module:
        aref = self.config.actor_rollout_ref
        model = load_causal_lm(aref.model, torch.float32)
        model.config.use_cache = False
        if trainable and self.lora is not None:
            self.adapted = add_adapters(model, self.lora, seed=self.base_seed)
        if trainable and aref.model.enable_gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        role = "actor" if trainable else "ref"
        offload = offload_policy(aref[role].fsdp_config, self.device, f"actor_rollout_ref.{role}")
        return shard_model(
            model,
            self.mesh,
            self.compute_dtype,
            reshard_after_forward=bool(aref.actor.fsdp_config.reshard_after_forward),  # the reference's too
            trainable=trainable,
            offload=offload,
        )

    # ------------------------------------------------------------------ rollout
    def _full_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        """The actor's parameters, unsharded one at a time (a collective per parameter; offloaded shards are
        copied to the device first, where the collective runs)."""
        for name, parameter in self.actor.named_parameters():
            if hasattr(parameter, "full_tensor"):
                yield name, parameter.to(self.device).full_tensor()
            else:
                yield name, parameter

    def _rollout_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        """What the rollout loads: the actor's parameters, with LoRA merged into plain Hugging Face weights."""
        if self.lora is None:
            return self._full_parameters()
        return merged_parameters(self._full_parameters(), self.lora.scale)

    @data_parallel
    def generate_sequences(
        self, prompts: Batch, validate: bool = False, step: int | None = None, greedy: bool = False,
        gen_round: int = 0,
    ) -> Batch:
        """Samples for left-padded prompts: ``rollout.n`` per prompt (``val_kwargs`` when `validate`; one
        greedy response per prompt when `greedy`, ReMax's baseline).

        Rows come out in prompt order, each prompt's samples adjacent, carrying the prompt's non-tensor
        fields. With `step` given, the draw is a fixed function of (``trainer.seed``, step, rank, `gen_round`).
        """
        if self.sampler is None:
            raise RuntimeError(
                "generate_sequences: actor_rollout_ref.rollout.placement=separate, so the RolloutWorker group "
                "samples and this worker holds no rollout engine"
            )
        self.rollout.wake()
        if self._rollout_version != self._weights_version:
            self.rollout.sync_weights(self._rollout_parameters())
            self._rollout_version = self._weights_version
        meta = dict(prompts.meta)
        if self.config.actor_rollout_ref.rollout.check_weight_sync:
            meta |= self._check_weight_sync(prompts)
        samples = self.sampler.sample(prompts, validate, step, greedy, meta, gen_round)
        self.rollout.sleep()
        return samples

    @on_all_ranks
    def rollout_weights(self) -> dict[str, torch.Tensor] | None:
        """What a rollout on another pool loads (the full parameters, LoRA merged) as CPU tensors on rank 0,
        None on the other ranks; every rank takes part in the gathers."""
        weights = {}
        for name, tensor in self._rollout_parameters():
            if self.rank == 0:
                weights[name] = tensor.detach().to("cpu", copy=True)
        return weights if self.rank == 0 else None

    def _check_weight_sync(self, prompts: Batch) -> dict[str, float]:
        """``rollout.check_weight_sync``: the rollout's log-probs must match the actor's (docs/vllm.md);
        returns the gap metric, equal on all ranks, for the batch's meta."""

        def actor_log_probs(batch: Batch) -> torch.Tensor:
            self.actor.eval()
            return micro_batched_log_probs(
                self.actor, batch.to(self.device), 1.0, MicroBatching(), False, self.forward_options
            )[0]

        rollout = self.config.actor_rollout_ref.rollout
        tolerance = rollout.weight_sync_tolerance
        if tolerance is None:
            tolerance = default_tolerance(self.compute_dtype == torch.float32 and str(rollout.dtype) == "fp32")
        return check_weight_sync(self.rollout, prompts, actor_log_probs, tolerance)

    # ------------------------------------------------------------------ log-probs
    def _log_probs(self, model: torch.nn.Module, batch: Batch, micro_batching: MicroBatching, with_entropy: bool):
        model.eval()
        distribution = sampling_distribution(self.config.actor_rollout_ref.rollout)
        return micro_batched_log_probs(
            model, batch.to(self.device), distribution, micro_batching, with_entropy, self.forward_options
        )

    @data_parallel
    def compute_log_prob(self, batch: Batch, calculate_entropy: bool = False) -> Batch:
        """``old_log_probs`` ``[N, R]`` of the responses under the actor (and ``entropys`` if asked)."""
        log_probs, entropy = self._log_probs(
            self.actor, batch, self.batch_sizes.log_prob_micro_batching, calculate_entropy
        )
        fields = {"old_log_probs": log_probs.cpu()}
        if calculate_entropy:
            fields["entropys"] = entropy.cpu()
        return Batch(fields)

    @data_parallel
    def compute_ref_log_prob(self, batch: Batch) -> Batch:
        """``ref_log_prob`` ``[N, R]`` under the frozen initial policy (with LoRA: the actor without its
        adapters)."""
        if not self.kl_on:
            raise RuntimeError(
                "compute_ref_log_prob: no reference model; it exists only when actor_rollout_ref.actor.use_kl_loss "
                "or algorithm.use_kl_in_reward is true"
            )
        model = self.ref if self.ref is not None else self.actor
        with nullcontext() if self.ref is not None else adapters_disabled(self.adapted):
            log_probs, _ = self._log_probs(model, batch, self.batch_sizes.ref_log_prob_micro_batching, False)
        return Batch({"ref_log_prob": log_probs.cpu()})

    # ------------------------------------------------------------------ training
    @data_parallel
    def update_actor(self, batch: Batch) -> dict[str, float]:
        """One training step on this rank's shard (arranged by `batch_sizes.update_order`); metrics are
        global and equal on every rank."""
        actor = self.config.actor_rollout_ref.actor
        metrics = update_policy(
            self.actor,
            self.optimizer,
            batch.to(self.device),
            self.policy_loss,
            mini_batch_per_device=self.batch_sizes.mini_batch_per_device,
            micro_batching=self.batch_sizes.update_micro_batching,
            ppo_epochs=int(actor.ppo_epochs),
            grad_clip=actor.grad_clip,
            scaler=self.grad_scaler,
        )
        metrics["actor/lr"] = self.lr_scheduler.get_last_lr()[0]
        self.lr_scheduler.step()
        self._weights_version += 1
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_contents(self, key: str) -> set[str]:
        """``actor.checkpoint.<key>``: any of model, optimizer, extra (schedule, scaler, RNG), hf_model."""
        return set(self.config.actor_rollout_ref.actor.checkpoint[key])

    @on_all_ranks
    def save_checkpoint(self, path: str) -> None:
        """Sharded model (with LoRA: the adapters), optimizer, schedule and RNG into folder `path` (all
        ranks, shared filesystem)."""
        contents = self._checkpoint_contents("save_contents")
        extra = {
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "grad_scaler": None if self.grad_scaler is None else self.grad_scaler.state_dict(),
            "cpu_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else None,
        }
        optimizer = self.optimizer if "optimizer" in contents else None
        save_sharded(path, self.actor, optimizer, extra, trainable_only=self.lora is not None)
        if "hf_model" in contents:
            self.export_hf(os.path.join(path, "huggingface"))

    @on_all_ranks
    def load_checkpoint(self, path: str) -> None:
        """Restore what `save_checkpoint` wrote (the optimizer only if the checkpoint holds it)."""
        contents = self._checkpoint_contents("load_contents")
        optimizer = self.optimizer if "optimizer" in contents else None
        extra = load_sharded(path, self.actor, optimizer, trainable_only=self.lora is not None)
        if "extra" in contents:
            self.lr_scheduler.load_state_dict(extra["lr_scheduler"])
            if self.grad_scaler is not None and extra["grad_scaler"] is not None:
                self.grad_scaler.load_state_dict(extra["grad_scaler"])
            torch.set_rng_state(extra["cpu_rng"])
            if extra["cuda_rng"] is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state(extra["cuda_rng"])
        self._weights_version += 1

    @on_all_ranks
    def export_hf(self, path: str) -> None:
        """The full actor weights (in the source model's dtype) and the tokenizer as a Hugging Face folder;
        with LoRA the merged weights, plus the adapter alone in ``path/lora_adapter``."""
        export_hf_folder(path, self.actor, self.tokenizer, self.export_dtype, lora=self.lora)
