"""Sharding a Hugging Face model with FSDP2 (``torch.distributed.fsdp.fully_shard``).

Every decoder layer becomes its own FSDP unit (its parameters are gathered just for its forward and
backward), and the root unit holds the rest (embeddings, final norm, head). Parameters stay in float32
("master weights"); the mixed-precision policy casts them to the compute dtype for forward/backward and
reduces gradients in float32.

CPU offload (``fsdp_config.param_offload`` / ``optimizer_offload``) uses FSDP2's `CPUOffloadPolicy`: the
sharded parameters, their gradients and so the optimizer state stay in (pinned) host memory, each unit is
copied to the GPU for its forward and backward, and the optimizer steps on the CPU. FSDP2 has no policy
that offloads the optimizer state alone, so either key turns the policy on. On a CPU run there is nothing
to offload to: the keys are no-ops and a warning says so.
"""

from __future__ import annotations

import logging

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard
from transformers import PreTrainedModel

__all__ = ["build_device_mesh", "decoder_layers", "offload_policy", "shard_model", "worker_device"]

logger = logging.getLogger(__name__)


def worker_device() -> torch.device:
    """This rank's device: its CUDA device when the world uses NCCL (e.g. ``cpu:gloo,cuda:nccl``), else the CPU."""
    if "nccl" in dist.get_backend_config():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def build_device_mesh(device: torch.device) -> DeviceMesh:
    """A 1-D mesh over all ranks (pure data-parallel sharding)."""
    return init_device_mesh(device.type, (dist.get_world_size(),), mesh_dim_names=("fsdp",))


def offload_policy(fsdp_config, device: torch.device, section: str) -> OffloadPolicy:
    """FSDP2's CPU offload policy when `section`'s ``fsdp_config`` asks for ``param_offload`` or
    ``optimizer_offload`` on a GPU; on a CPU device the request is a no-op, said in a warning."""
    fsdp_config = fsdp_config or {}
    # Not every section has both keys: the reference's fsdp_config has no optimizer_offload (no optimizer).
    asked = [key for key in ("param_offload", "optimizer_offload") if fsdp_config.get(key)]
    if not asked:
        return OffloadPolicy()
    keys = ", ".join(f"{section}.fsdp_config.{key}" for key in asked)
    if device.type != "cuda":
        logger.warning("%s: no-op on a CPU run (parameters and optimizer state are already in host memory)", keys)
        return OffloadPolicy()
    logger.info("%s: sharded parameters, gradients and optimizer state kept in CPU memory", keys)
    return CPUOffloadPolicy(pin_memory=True)


def decoder_layers(model: PreTrainedModel) -> list[torch.nn.Module]:
    """The model's repeated blocks, found by the class names Transformers lists in ``_no_split_modules``."""
    block_names = set(getattr(model, "_no_split_modules", None) or [])
    layers = [module for module in model.modules() if type(module).__name__ in block_names]
    if not layers:
        raise ValueError(
            f"{type(model).__name__} names no decoder-layer classes in _no_split_modules; "
            "cannot choose FSDP units for it"
        )
    return layers


def shard_model(
    model: PreTrainedModel,
    mesh: DeviceMesh,
    compute_dtype: torch.dtype,
    reshard_after_forward: bool = True,
    trainable: bool = True,
    offload: OffloadPolicy | None = None,
) -> PreTrainedModel:
    """Shard `model` in place: one FSDP2 unit per decoder layer plus the root.

    A frozen model (``trainable=False``, the reference policy) keeps no gradients and runs in eval mode.
    `offload` is `offload_policy`'s result (default: none).
    """
    model.to(torch.float32)
    if not trainable:
        model.requires_grad_(False)
        model.eval()
    options = {
        "mesh": mesh,
        "mp_policy": MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=torch.float32),
        "reshard_after_forward": reshard_after_forward,
        "offload_policy": offload if offload is not None else OffloadPolicy(),
    }
    for layer in decoder_layers(model):
        fully_shard(layer, **options)
    fully_shard(model, **options)
    return model
