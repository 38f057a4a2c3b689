"""The workers' sharded checkpoint (``actor/``) on one gloo rank: round trip, and each bad file refused by name."""

import io
import pickle
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard

from maxrl.utils.safe_state import CheckpointError
from maxrl.workers.checkpoint import load_sharded, save_sharded
from maxrl.workers.safe_dcp import SafeLoadPlanner


class WritesMarker:
    """Unpickling this object creates `marker`: what a malicious checkpoint would do, harmlessly."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module", autouse=True)
def one_rank(tmp_path_factory):
    if dist.is_initialized():
        pytest.skip("a process group is already running in this process")
    store = tmp_path_factory.mktemp("store") / "rendezvous"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def trained(seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    fully_shard(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    model(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    return model, optimizer, scheduler


@pytest.fixture
def checkpoint(tmp_path):
    model, optimizer, scheduler = trained(0)
    extra = {"lr_scheduler": scheduler.state_dict(), "grad_scaler": None, "cpu_rng": torch.get_rng_state()}
    save_sharded(tmp_path / "actor", model, optimizer, extra)
    return tmp_path / "actor", model, extra


def test_round_trip_restores_weights_optimizer_and_extra_state(checkpoint):
    path, saved_model, extra = checkpoint
    assert {p.name for p in path.iterdir()} == {".metadata", "__0_0.distcp", "extra_state_rank0.json"}
    model, optimizer, _ = trained(1)
    loaded_extra = load_sharded(path, model, optimizer)
    assert all(torch.equal(a.full_tensor(), b.full_tensor()) for a, b in zip(model.parameters(),
                                                                             saved_model.parameters()))
    assert loaded_extra["lr_scheduler"] == extra["lr_scheduler"]
    assert torch.equal(loaded_extra["cpu_rng"], extra["cpu_rng"]) and loaded_extra["grad_scaler"] is None
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)  # non-tensor entries came back with their types


def test_a_truncated_shard_file_is_named(checkpoint):
    path, _, _ = checkpoint
    shard = path / "__0_0.distcp"
    size = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[: size // 2])
    with pytest.raises(CheckpointError, match=f"{shard} is truncated: {size // 2} bytes, but .metadata expects"):
        load_sharded(path, *trained(1)[:2])


def test_missing_and_truncated_metadata_and_extra_state_are_named(checkpoint):
    path, _, _ = checkpoint
    (path / "extra_state_rank0.json").write_text('{"lr_sch')
    with pytest.raises(CheckpointError, match=f"{path / 'extra_state_rank0.json'} is not valid JSON"):
        load_sharded(path, *trained(1)[:2])
    metadata = path / ".metadata"
    metadata.write_bytes(metadata.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=f"{metadata} is truncated or corrupt"):
        load_sharded(path, *trained(1)[:2])
    metadata.unlink()
    with pytest.raises(CheckpointError, match=f"{metadata} is missing: {path} is not a complete actor checkpoint"):
        load_sharded(path, *trained(1)[:2])


def test_crafted_metadata_is_refused_without_running_it(checkpoint, tmp_path):
    path, _, _ = checkpoint
    marker = tmp_path / "pwned"
    (path / ".metadata").write_bytes(pickle.dumps(WritesMarker(marker)))
    with pytest.raises(CheckpointError, match=rf"{path / '.metadata'} was refused: it names io.open, which"):
        load_sharded(path, *trained(1)[:2])
    assert not marker.exists()


def test_crafted_non_tensor_entry_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    crafted = io.BytesIO()
    torch.save(WritesMarker(marker), crafted)
    crafted.seek(0)
    read_item = SimpleNamespace(dest_index=SimpleNamespace(fqn="optimizer.param_groups.0.lr"))
    with pytest.raises(CheckpointError, match="checkpoint entry 'optimizer.param_groups.0.lr' was refused: it holds io.open, which is neither"):
        SafeLoadPlanner().load_bytes(read_item, crafted)
    assert not marker.exists()
