"""Checkpoint bookkeeping: layout, the tracker file written last, rotation, and the choice of resume point."""

import json

import pytest

from maxrl.trainer.checkpoint import TRACKER_FILE, CheckpointManager, step_of
from maxrl.utils.safe_state import CheckpointError


def fake_actor_save(actor_dir):
    actor_dir.mkdir()
    (actor_dir / "model_world_size_1_rank_0.pt").write_bytes(b"weights")


def no_actor_load(actor_dir):
    assert actor_dir.is_dir()


def save(manager, step):
    return manager.save(step, fake_actor_save, {"loader": step}, {"global_step": step})


def test_layout_and_tracker(tmp_path):
    manager = CheckpointManager(tmp_path)
    step_dir = save(manager, 3)
    assert step_dir == tmp_path / "global_step_3"
    assert sorted(p.name for p in step_dir.iterdir()) == ["actor", "data.json", "trainer_state.json"]
    assert json.loads((step_dir / "trainer_state.json").read_text()) == {"format_version": 2, "global_step": 3}
    assert (tmp_path / TRACKER_FILE).read_text() == "3\n"
    assert {p.name for p in tmp_path.iterdir()} == {TRACKER_FILE, "global_step_3"}  # no leftovers
    assert CheckpointManager.load(step_dir, no_actor_load) == ({"loader": 3}, {"global_step": 3})
    assert manager.latest() == step_dir


def test_a_crash_during_save_keeps_the_previous_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path)
    save(manager, 1)

    def crashing_save(actor_dir):
        actor_dir.mkdir()
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        manager.save(2, crashing_save, {}, {})
    assert not (tmp_path / "global_step_2").exists()  # the half-written step stays under its temporary name
    assert manager.latest() == tmp_path / "global_step_1"
    assert manager.resume_dir("auto", None) == tmp_path / "global_step_1"


def test_rotation_keeps_the_newest(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=2)
    for step in (1, 2, 10, 11):
        save(manager, step)
    assert {p.name for p in tmp_path.iterdir()} == {TRACKER_FILE, "global_step_10", "global_step_11"}


def test_rotation_never_removes_the_step_just_saved(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=1)
    for step in (1, 2, 3):
        save(manager, step)
    save(manager, 2)  # a rerun resumed from step 1 in the same folder saves step 2 again
    assert manager.latest() == tmp_path / "global_step_2"
    assert sorted(p.name for p in tmp_path.glob("global_step_*")) == ["global_step_2"]


def test_resume_modes(tmp_path):
    manager = CheckpointManager(tmp_path)
    assert manager.resume_dir("auto", None) is None  # nothing saved yet: fresh start
    save(manager, 2)
    save(manager, 4)
    assert manager.resume_dir("auto", None) == tmp_path / "global_step_4"
    assert manager.resume_dir("disable", None) is None
    assert manager.resume_dir("resume_path", str(tmp_path / "global_step_2")) == tmp_path / "global_step_2"
    with pytest.raises(CheckpointError, match="global_step_3 does not exist"):
        manager.resume_dir("resume_path", str(tmp_path / "global_step_3"))
    with pytest.raises(ValueError, match="needs trainer.resume_from_path"):
        manager.resume_dir("resume_path", None)
    with pytest.raises(ValueError, match="choose from"):
        manager.resume_dir("latest", None)


def test_step_of():
    assert step_of("/runs/x/global_step_250") == 250
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        step_of("/runs/x/step_250")
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        step_of("/runs/x/global_step_250.tmp-123")
