"""Checkpoints name their format: the current code reads a checkpoint written by the code of the previous
format (a fixture made by that code, `fixtures/checkpoint_format_1/make_fixture.py`) and refuses a newer one."""

import json
import random
import shutil
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard

from maxrl.trainer.checkpoint import CHECKPOINT_FORMAT, TRAINER_STATE_FILE, CheckpointManager
from maxrl.utils.safe_state import CheckpointError, load_json_state, save_json_state
from maxrl.utils.stateful_loader import stateful_dataloader
from maxrl.workers.checkpoint import load_sharded

FORMAT_1 = Path(__file__).parent / "fixtures" / "checkpoint_format_1"


@pytest.fixture(scope="module", autouse=True)
def one_rank(tmp_path_factory):
    if dist.is_initialized():
        pytest.skip("a process group is already running in this process")
    store = tmp_path_factory.mktemp("store") / "rendezvous"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def fresh_policy():
    """The fixture's stand-in policy, initialised differently, and its AdamW before any step."""
    torch.manual_seed(123)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    fully_shard(model)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def test_a_checkpoint_of_the_previous_format_is_read_back_exactly(tmp_path):
    run = shutil.copytree(FORMAT_1 / "run", tmp_path / "run")
    expected = json.loads((FORMAT_1 / "expected.json").read_text())
    assert "format_version" not in load_json_state(run / "global_step_2" / TRAINER_STATE_FILE)  # truly format 1
    model, optimizer = fresh_policy()
    extra = {}

    def load_actor(actor_dir):
        extra.update(load_sharded(actor_dir, model, optimizer))

    step_dir = CheckpointManager(run).resume_dir("auto", None)
    data_state, trainer_state = CheckpointManager.load(step_dir, load_actor)
    assert trainer_state["global_step"] == 2 and trainer_state["batches_in_epoch"] == 2
    for parameter, values in zip(model.parameters(), expected["parameters"]):
        assert torch.equal(parameter.full_tensor(), torch.tensor(values))
    for parameter, values in zip(model.parameters(), expected["exp_avg"]):
        assert torch.equal(optimizer.state[parameter]["exp_avg"].full_tensor(), torch.tensor(values))
    assert extra["lr_scheduler"]["last_epoch"] == expected["lr_scheduler_last_epoch"]
    random.setstate(trainer_state["rng"]["python"])
    assert random.random() == expected["python_random"]
    loader = stateful_dataloader(list(range(8)), batch_size=2, shuffle=False)
    loader.load_state_dict(data_state)
    assert next(iter(loader)).tolist() == expected["next_batch"]


def test_saves_write_the_current_format(tmp_path):
    step_dir = CheckpointManager(tmp_path).save(1, lambda actor_dir: actor_dir.mkdir(), {}, {"global_step": 1})
    assert load_json_state(step_dir / TRAINER_STATE_FILE)["format_version"] == CHECKPOINT_FORMAT
    _, trainer_state = CheckpointManager.load(step_dir, lambda actor_dir: None)
    assert trainer_state == {"global_step": 1}  # the format is the manager's business


@pytest.mark.parametrize("version, message", [
    (CHECKPOINT_FORMAT + 1, f"is in checkpoint format {CHECKPOINT_FORMAT + 1}, written by a newer maxrl; this one "
                            f"reads formats up to {CHECKPOINT_FORMAT}: resume it with the maxrl that wrote it"),
    ("2", "names checkpoint format '2', which no maxrl writes"),
])
def test_a_newer_or_unknown_format_is_refused_before_the_model_is_loaded(tmp_path, version, message):
    step_dir = CheckpointManager(tmp_path).save(1, lambda actor_dir: actor_dir.mkdir(), {}, {"global_step": 1})
    save_json_state(step_dir / TRAINER_STATE_FILE, {"format_version": version, "global_step": 1})
    loaded = []
    with pytest.raises(CheckpointError, match=f"{step_dir / TRAINER_STATE_FILE} {message}"):
        CheckpointManager.load(step_dir, loaded.append)
    assert loaded == []
