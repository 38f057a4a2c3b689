"""CPU offload on a GPU (``fsdp_config.param_offload``): the FSDP2 shards, their gradients and AdamW's state
live in host memory, the forward runs on the GPU, and a training step equals the step without offload."""

import pytest
import torch
import torch.distributed as dist
from gpu_helpers import needs_gpu

from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.fsdp import build_device_mesh, offload_policy, shard_model

pytestmark = needs_gpu


@pytest.fixture(scope="module", autouse=True)
def one_process_world(tmp_path_factory):
    store = dist.FileStore(str(tmp_path_factory.mktemp("offload") / "store"), 1)
    dist.init_process_group("cpu:gloo,cuda:nccl", store=store, rank=0, world_size=1)
    torch.cuda.set_device(0)
    yield
    dist.destroy_process_group()


def trained(offload: bool):
    device = torch.device("cuda", 0)
    model = build_tiny_causal_lm(vocab_size=96, hidden_size=64, num_layers=2, seed=3)
    policy = offload_policy({"param_offload": offload}, device, "actor_rollout_ref.actor")
    model = shard_model(model, build_device_mesh(device), torch.float32, offload=policy)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    tokens = torch.randint(1, 96, (4, 12), generator=torch.Generator().manual_seed(0)).to(device)
    loss = model(input_ids=tokens, labels=tokens).loss
    loss.backward()
    optimizer.step()
    state = next(iter(optimizer.state.values()))["exp_avg"]
    full = {name: p.to(device).full_tensor().cpu() for name, p in model.named_parameters()}
    return model, state, full


def test_offloaded_shards_and_optimizer_state_stay_on_the_host_and_train_like_the_gpu_ones():
    offloaded, state, weights = trained(offload=True)
    assert all(p.to_local().device.type == "cpu" for p in offloaded.parameters())
    assert state.device.type == "cpu"
    _, gpu_state, gpu_weights = trained(offload=False)
    assert gpu_state.device.type == "cuda"
    for name, value in gpu_weights.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
