"""Bad checkpoints and interrupted saves: each gets a `CheckpointError` naming the file and the fallback
checkpoint, and a save killed at any moment never leaves a half-written step where resume would load it."""

import json
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from maxrl.tasks.vision.checkpoint import load_checkpoint
from maxrl.trainer.checkpoint import TRACKER_FILE, CheckpointManager, step_dirs
from maxrl.utils.safe_state import CheckpointError, load_json_state, load_weights_only


def fake_actor_save(actor_dir):
    actor_dir.mkdir()
    (actor_dir / "model_world_size_1_rank_0.pt").write_bytes(b"weights")


def no_actor_load(actor_dir):
    assert actor_dir.is_dir()


def save(manager, step):
    return manager.save(step, fake_actor_save, {"loader": step}, {"global_step": step})


class WritesMarker:
    """Unpickling this object creates `marker`: what a malicious checkpoint would do, harmlessly."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def resume_hint(path):
    return f"Resume from {path.name} with trainer.resume_mode=resume_path trainer.resume_from_path={path}"


@pytest.fixture
def two_steps(tmp_path):
    manager = CheckpointManager(tmp_path)
    save(manager, 1)
    save(manager, 2)
    return manager


def test_garbage_tracker_names_the_file_and_the_newest_checkpoint(two_steps, tmp_path):
    (tmp_path / TRACKER_FILE).write_text("<html>oops")
    with pytest.raises(CheckpointError) as error:
        two_steps.resume_dir("auto", None)
    message = str(error.value)
    assert f"{tmp_path / TRACKER_FILE} should hold the step of the newest checkpoint but holds '<html>oops'" in message
    assert resume_hint(tmp_path / "global_step_2") in message


def test_tracker_naming_a_missing_folder_suggests_the_previous_step(two_steps, tmp_path):
    (tmp_path / TRACKER_FILE).write_text("7\n")
    with pytest.raises(CheckpointError, match=f"names step 7, but {tmp_path / 'global_step_7'} does not exist") as error:
        two_steps.latest()
    assert resume_hint(tmp_path / "global_step_2") in str(error.value)


def test_truncated_trainer_state_names_the_file_and_the_previous_step(two_steps, tmp_path):
    state_file = tmp_path / "global_step_2" / "trainer_state.json"
    state_file.write_bytes(state_file.read_bytes()[:7])
    with pytest.raises(CheckpointError) as error:
        CheckpointManager.load(tmp_path / "global_step_2", no_actor_load)
    message = str(error.value)
    assert f"cannot resume from {tmp_path / 'global_step_2'}: {state_file} is not valid JSON" in message
    assert "truncated or corrupt" in message
    assert resume_hint(tmp_path / "global_step_1") in message


def test_a_failing_actor_load_is_reported_with_the_fallback(two_steps, tmp_path):
    def broken_shard(actor_dir):
        raise CheckpointError(f"{actor_dir / '__0_0.distcp'} is truncated: 10 bytes, but .metadata expects at least 99")

    with pytest.raises(CheckpointError, match=r"__0_0.distcp is truncated: 10 bytes") as error:
        CheckpointManager.load(tmp_path / "global_step_2", broken_shard)
    assert resume_hint(tmp_path / "global_step_1") in str(error.value)


def test_without_an_earlier_checkpoint_the_error_says_so(tmp_path):
    manager = CheckpointManager(tmp_path)
    save(manager, 1)
    (tmp_path / "global_step_1" / "data.json").write_text("{")
    with pytest.raises(CheckpointError, match="No complete earlier checkpoint is in .*trainer.resume_mode=disable"):
        CheckpointManager.load(tmp_path / "global_step_1", no_actor_load)


def test_a_pickled_state_file_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    step_dir = tmp_path / "global_step_3"
    (step_dir / "actor").mkdir(parents=True)
    torch.save({"global_step": 3, "payload": WritesMarker(marker)}, step_dir / "trainer_state.pt")
    torch.save({}, step_dir / "data.pt")
    (tmp_path / TRACKER_FILE).write_text("3\n")
    expected = "it holds data.pt and trainer_state.pt, the pickled state of an older maxrl, which is not loaded"
    with pytest.raises(CheckpointError, match=f"trainer.resume_from_path={step_dir} is not a complete checkpoint"):
        CheckpointManager(tmp_path).resume_dir("resume_path", str(step_dir))
    with pytest.raises(CheckpointError, match=expected):
        CheckpointManager.load(CheckpointManager(tmp_path).resume_dir("auto", None), no_actor_load)
    (step_dir / "trainer_state.json").write_bytes(pickle.dumps(WritesMarker(marker)))  # a pickle under a JSON name
    (step_dir / "data.json").write_text("{}")
    with pytest.raises(CheckpointError, match=f"{step_dir / 'trainer_state.json'} is not valid JSON"):
        CheckpointManager.load(step_dir, no_actor_load)
    assert not marker.exists()


class RunsShellCommand:
    """Unpickling this object would run a shell command through os.system, whose module torch 2.13 blocks
    outright: its refusal is worded differently from that of a merely unlisted global."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_an_entry_calling_a_blocked_module_is_reported_as_refused_not_corrupt(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"step": 1, "model": RunsShellCommand(marker)}, tmp_path / "latest.pt")
    with pytest.raises(CheckpointError, match=re.escape(
            f"{tmp_path / 'latest.pt'} was refused: it holds posix.system, which is neither a tensor nor plain data; "
            "loading it would need unpickling, which can run arbitrary code")):
        load_weights_only(tmp_path / "latest.pt")
    assert not marker.exists()


def test_weights_only_files_refuse_a_crafted_pickle(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "ckpt").mkdir()
    torch.save({"step": 1, "model": WritesMarker(marker)}, tmp_path / "ckpt" / "latest.pt")
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'ckpt' / 'latest.pt'} was refused: it holds io.open, which is neither"):
        load_checkpoint(tmp_path / "ckpt")
    assert not marker.exists()
    torch.save({"w": torch.ones(1000)}, tmp_path / "state.pt")
    (tmp_path / "state.pt").write_bytes((tmp_path / "state.pt").read_bytes()[:500])
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'state.pt'} is truncated or corrupt"):
        load_weights_only(tmp_path / "state.pt")


def test_leftover_temporary_folders_are_ignored_and_then_removed(two_steps, tmp_path):
    complete_looking = tmp_path / "global_step_9.tmp-4242"  # a save of step 9 killed before its rename
    (complete_looking / "actor").mkdir(parents=True)
    (complete_looking / "data.json").write_text("{}")
    (complete_looking / "trainer_state.json").write_text('{"global_step": 9}')
    set_aside = tmp_path / ".global_step_1.old-4242"  # a rotation killed while deleting
    set_aside.mkdir()
    assert two_steps.resume_dir("auto", None) == tmp_path / "global_step_2"
    assert [p.name for p in step_dirs(tmp_path)] == ["global_step_1", "global_step_2"]
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        two_steps.resume_dir("resume_path", str(complete_looking))
    save(two_steps, 3)
    assert not complete_looking.exists() and not set_aside.exists()


def test_resaving_a_step_replaces_it_atomically(two_steps, tmp_path):
    def crashing_save(actor_dir):
        actor_dir.mkdir()
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        two_steps.save(2, crashing_save, {"loader": "new"}, {"global_step": 2})
    assert CheckpointManager.load(two_steps.latest(), no_actor_load) == ({"loader": 2}, {"global_step": 2})
    two_steps.save(2, fake_actor_save, {"loader": "new"}, {"global_step": 2})
    assert CheckpointManager.load(two_steps.latest(), no_actor_load) == ({"loader": "new"}, {"global_step": 2})
    assert not list(tmp_path.glob("*.tmp-*")) and not list(tmp_path.glob(".*.old-*"))


def test_a_save_killed_between_its_two_renames_restores_the_set_aside_step(two_steps, tmp_path):
    (tmp_path / "global_step_2").rename(tmp_path / ".global_step_2.old-4242")
    assert two_steps.resume_dir("auto", None) == tmp_path / "global_step_2"
    assert CheckpointManager.load(tmp_path / "global_step_2", no_actor_load) == ({"loader": 2}, {"global_step": 2})


KILLED_SAVER = """
import sys
import torch
from maxrl.trainer.checkpoint import CheckpointManager

def save_actor(step):
    def write(actor_dir):
        actor_dir.mkdir()
        for shard in range(4):
            (actor_dir / f"shard_{shard}.bin").write_bytes(bytes([step % 256]) * 262144)
    return write

manager = CheckpointManager(sys.argv[1], max_to_keep=2)
print("ready", flush=True)
for i in range(10**6):
    step = int(sys.argv[2]) + i // 2 + 1  # every step is saved twice: the second save replaces the first
    rng = torch.Generator().manual_seed(step).get_state()
    manager.save(step, save_actor(step), {"step": step, "rng": rng}, {"global_step": step, "i": i})
"""


def assert_intact(step_dir):
    step = int(step_dir.name.removeprefix("global_step_"))
    data = load_json_state(step_dir / "data.json")
    assert load_json_state(step_dir / "trainer_state.json")["global_step"] == step == data["step"]
    assert torch.equal(data["rng"], torch.Generator().manual_seed(step).get_state())
    shards = sorted((step_dir / "actor").iterdir())
    assert [p.name for p in shards] == [f"shard_{k}.bin" for k in range(4)]
    assert all(p.read_bytes() == bytes([step % 256]) * 262144 for p in shards)
    return step


def test_a_save_killed_at_random_moments_never_leaves_a_half_written_step_to_resume(tmp_path):
    rng = random.Random(20)
    manager = CheckpointManager(tmp_path, max_to_keep=2)
    resumed = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(tmp_path), str(resumed)],
                                 stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait()
        step_dir = manager.resume_dir("auto", None)
        if step_dir is not None:
            resumed = assert_intact(step_dir)
            assert json.loads((tmp_path / TRACKER_FILE).read_text()) == resumed
            assert all(assert_intact(d) for d in step_dirs(tmp_path))  # every folder with a step name is complete
    assert resumed > 0
    save(manager, resumed + 1)  # the next save removes whatever the kills left behind
    assert {p.name for p in tmp_path.iterdir()} == {TRACKER_FILE, f"global_step_{resumed}", f"global_step_{resumed + 1}"}
