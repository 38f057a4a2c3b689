"""A worker with read-outs for the LoRA worker-group test (its own module: Ray pickles it by value)."""

import torch

from maxrl.controller.methods import data_parallel, on_all_ranks
from maxrl.data.batch import Batch
from maxrl.workers import ActorRolloutRefWorker
from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.update_loop import loss_mask


class GradientProbe(ActorRolloutRefWorker):
    """The worker plus two read-outs for this test: its LoRA layout and the adapters' gradients."""

    @on_all_ranks
    def lora_layout(self) -> dict:
        optimized = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        return {
            "reference_copy": self.ref is not None,
            "optimized": sorted(name for name, p in self.actor.named_parameters() if id(p) in optimized),
        }

    @data_parallel
    def lora_gradients(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Gradients of sum(log-probs) / (all ranks' token count) on the full adapters, through the
        worker's own forward layout (shared prompt, KV cache)."""
        batch = batch.to(self.device)
        mask = loss_mask(batch)
        count = mask.sum().float()
        torch.distributed.all_reduce(count)
        self.actor.train()
        log_probs, _ = response_log_probs(self.actor, batch, 1.0, options=self.forward_options)
        ((log_probs * mask).sum() * self.world_size / count).backward()  # FSDP averages over ranks
        gradients = {name: p.grad.full_tensor().clone() for name, p in self.actor.named_parameters() if p.grad is not None}
        self.actor.zero_grad(set_to_none=True)
        return gradients
