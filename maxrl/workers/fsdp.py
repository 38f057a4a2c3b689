"""Sharding a Hugging Face model with FSDP2 (``torch.distributed.fsdp.fully_shard``).

Every decoder layer becomes its own FSDP unit (its parameters are gathered just for its forward and
backward), and the root unit holds the rest (embeddings, final norm, head). Parameters stay in float32
("master weights"); the mixed-precision policy casts them to the compute dtype for forward/backward and
reduces gradients in float32.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from transformers import PreTrainedModel

__all__ = ["build_device_mesh", "decoder_layers", "shard_model", "worker_device"]


def worker_device() -> torch.device:
    """This rank's device: its CUDA device when the world uses NCCL (e.g. ``cpu:gloo,cuda:nccl``), else the CPU."""
    if "nccl" in dist.get_backend_config():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def build_device_mesh(device: torch.device) -> DeviceMesh:
    """A 1-D mesh over all ranks (pure data-parallel sharding)."""
    return init_device_mesh(device.type, (dist.get_world_size(),), mesh_dim_names=("fsdp",))


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
) -> PreTrainedModel:
    """Shard `model` in place: one FSDP2 unit per decoder layer plus the root.

    A frozen model (``trainable=False``, the reference policy) keeps no gradients and runs in eval mode.
    """
    model.to(torch.float32)
    if not trainable:
        model.requires_grad_(False)
        model.eval()
    policy = MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=torch.float32)
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)
    return model
