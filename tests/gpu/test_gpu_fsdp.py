"""FSDP2 on one GPU over NCCL: a one-rank sharded update equals the plain update of the same model, and CPU
offload (``fsdp_config.param_offload``) really moves the shards, their gradients and AdamW's state off the
device (device memory measured) while the step stays the same."""

import gc

import pytest
import torch
import torch.distributed as dist
from gpu_helpers import needs_gpu
from torch.distributed.tensor import DTensor

from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.fsdp import build_device_mesh, offload_policy, shard_model

pytestmark = needs_gpu

MIB = 2**20


@pytest.fixture(scope="module", autouse=True)
def one_process_world(tmp_path_factory):
    store = dist.FileStore(str(tmp_path_factory.mktemp("fsdp") / "store"), 1)
    dist.init_process_group("cpu:gloo,cuda:nccl", store=store, rank=0, world_size=1)
    torch.cuda.set_device(0)
    yield
    dist.destroy_process_group()


def trained(layout: str):
    """One AdamW step of the same model and batch, `layout` plain | sharded | offloaded. Returns the weights
    after it (on the host), the device memory the model holds after the step, and its parameter bytes."""
    device = torch.device("cuda", 0)
    gc.collect()  # the previous call's sharded model holds cycles (hooks): free its device memory first
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    model = build_tiny_causal_lm(vocab_size=512, hidden_size=256, num_layers=4, seed=3)
    parameter_bytes = sum(p.numel() * 4 for p in model.parameters())
    if layout == "plain":
        model.to(device)
    else:
        policy = offload_policy({"param_offload": layout == "offloaded"}, device, "actor_rollout_ref.actor")
        model = shard_model(model, build_device_mesh(device), torch.float32, offload=policy)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    tokens = torch.randint(1, 512, (4, 32), generator=torch.Generator().manual_seed(0)).to(device)
    model(input_ids=tokens, labels=tokens).loss.backward()
    optimizer.step()
    held = torch.cuda.memory_allocated() - before - tokens.numel() * tokens.element_size()
    state_device = next(iter(optimizer.state.values()))["exp_avg"].device.type
    weights = {name: (p.to(device).full_tensor() if isinstance(p, DTensor) else p).detach().cpu()
               for name, p in model.named_parameters()}
    return weights, held, parameter_bytes, state_device


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[name] - b[name]).abs().max().item() for name in a)


def test_a_one_rank_sharded_update_on_nccl_equals_the_plain_update(record_property):
    plain, _, _, _ = trained("plain")
    sharded, _, _, _ = trained("sharded")
    difference = largest_difference(sharded, plain)
    record_property("max_abs_weight_diff", difference)
    assert difference <= 1e-6


def test_offload_moves_shards_gradients_and_optimizer_state_off_the_device_and_trains_the_same(record_property):
    offloaded, held_offloaded, parameter_bytes, state_device = trained("offloaded")
    on_device, held_on_device, _, _ = trained("sharded")
    record_property("parameter_mib", round(parameter_bytes / MIB, 2))
    record_property("device_mib_held_offloaded", round(held_offloaded / MIB, 2))
    record_property("device_mib_held_on_device", round(held_on_device / MIB, 2))
    record_property("max_abs_weight_diff", largest_difference(offloaded, on_device))
    assert state_device == "cpu"
    assert held_on_device >= 3 * parameter_bytes  # weights, gradients and AdamW's two moments on the GPU
    assert held_offloaded <= 0.1 * parameter_bytes  # ... and on the host with offload
    for name, value in on_device.items():
        torch.testing.assert_close(offloaded[name], value, rtol=1e-4, atol=1e-5, msg=name)
