"""Checkpoint bookkeeping: layout, the tracker file written last, rotation, and the choice of resume point."""

import pytest
import torch

from maxrl.trainer.checkpoint import TRACKER_FILE, CheckpointManager, step_of


def fake_actor_save(actor_dir):
    actor_dir.mkdir()
    (actor_dir / "model_world_size_1_rank_0.pt").write_bytes(b"weights")


def save(manager, step):
    return manager.save(step, fake_actor_save, {"loader": step}, {"global_step": step})


def test_layout_and_tracker(tmp_path):
    manager = CheckpointManager(tmp_path)
    step_dir = save(manager, 3)
    assert step_dir == tmp_path / "global_step_3"
    assert sorted(p.name for p in step_dir.iterdir()) == ["actor", "data.pt", "trainer_state.pt"]
    assert (tmp_path / TRACKER_FILE).read_text() == "3\n"
    assert CheckpointManager.load(step_dir) == ({"loader": 3}, {"global_step": 3})
    assert manager.latest() == step_dir


def test_a_crash_during_save_keeps_the_previous_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path)
    save(manager, 1)

    def crashing_save(actor_dir):
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        manager.save(2, crashing_save, {}, {})
    assert manager.latest() == tmp_path / "global_step_1"
    assert manager.resume_dir("auto", None) == tmp_path / "global_step_1"


def test_rotation_keeps_the_newest(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=2)
    for step in (1, 2, 10, 11):
        save(manager, step)
    assert sorted(p.name for p in tmp_path.glob("global_step_*")) == ["global_step_10", "global_step_11"]


def test_resaving_a_step_replaces_it(tmp_path):
    manager = CheckpointManager(tmp_path)
    save(manager, 5)
    manager.save(5, fake_actor_save, {"loader": "new"}, {"global_step": 5})
    assert torch.load(tmp_path / "global_step_5" / "data.pt") == {"loader": "new"}


def test_resume_modes(tmp_path):
    manager = CheckpointManager(tmp_path)
    assert manager.resume_dir("auto", None) is None  # nothing saved yet: fresh start
    save(manager, 2)
    save(manager, 4)
    assert manager.resume_dir("auto", None) == tmp_path / "global_step_4"
    assert manager.resume_dir("disable", None) is None
    assert manager.resume_dir("resume_path", str(tmp_path / "global_step_2")) == tmp_path / "global_step_2"
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        manager.resume_dir("resume_path", str(tmp_path / "global_step_3"))
    with pytest.raises(ValueError, match="needs trainer.resume_from_path"):
        manager.resume_dir("resume_path", None)


def test_tracker_pointing_at_a_missing_folder_is_an_error(tmp_path):
    (tmp_path / TRACKER_FILE).write_text("7\n")
    with pytest.raises(FileNotFoundError, match="global_step_7"):
        CheckpointManager(tmp_path).latest()


def test_step_of():
    assert step_of("/runs/x/global_step_250") == 250
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        step_of("/runs/x/step_250")
