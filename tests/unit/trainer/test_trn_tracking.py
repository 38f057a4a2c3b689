"""Tracking backends: the JSONL file (incl. resume), the console line, TensorBoard events, W&B offline."""

import math

import numpy as np
import pytest
import torch

from maxrl.trainer.tracking import ConsoleBackend, Tracker, read_metrics, to_float


def test_file_backend_writes_every_metric_per_step(tmp_path):
    tracker = Tracker(["file"], tmp_path, "p", "e", {}, total_steps=2)
    tracker.log({"critic/score/mean": torch.tensor(0.5), "actor/lr": np.float32(1e-4), "flag": True}, step=1)
    tracker.log({"critic/score/mean": 0.75, "actor/grad_norm": math.nan}, step=2)
    tracker.close()
    rows = read_metrics(tmp_path)
    assert rows == [
        {"step": 1, "critic/score/mean": 0.5, "actor/lr": pytest.approx(1e-4), "flag": 1.0},
        {"step": 2, "critic/score/mean": 0.75, "actor/grad_norm": None},
    ]


def test_file_backend_on_resume_drops_steps_after_the_checkpoint(tmp_path):
    first = Tracker(["file"], tmp_path, "p", "e", {}, total_steps=4)
    for step in range(4):
        first.log({"x": float(step)}, step=step)
    first.close()
    resumed = Tracker(["file"], tmp_path, "p", "e", {}, total_steps=4, start_step=2)
    resumed.log({"x": 30.0}, step=3)
    resumed.close()
    assert [(row["step"], row["x"]) for row in read_metrics(tmp_path)] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 30.0)]


def test_console_line_shows_headline_and_validation_metrics():
    line = ConsoleBackend.format_line(
        {"critic/score/mean": 0.25, "actor/pg_loss": -0.0123456, "val/maze_5/pass@4": 0.5, "other": 1.0}, step=7
    )
    assert line == "step 7 | score 0.25 | pg_loss -0.01235 | val/maze_5/pass@4 0.5"


def test_console_backend_prints_one_line_per_step(tmp_path, capsys):
    tracker = Tracker(["console"], tmp_path, "p", "e", {}, total_steps=3)
    tracker.log({"critic/score/mean": 0.5}, step=1)
    tracker.log({"critic/score/mean": 0.75}, step=2)
    tracker.close()
    out = capsys.readouterr()
    text = out.out + out.err
    assert "step 1 | score 0.5" in text and "step 2 | score 0.75" in text
    assert "2/3" in text  # the progress bar


def test_tensorboard_backend_writes_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tracker = Tracker(["tensorboard"], tmp_path, "p", "e", {}, total_steps=2)
    tracker.log({"critic/score/mean": 0.25}, step=1)
    tracker.log({"critic/score/mean": 0.5}, step=2)
    tracker.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("critic/score/mean")] == [(1, 0.25), (2, 0.5)]


def test_wandb_offline_run_keeps_its_id_for_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    tracker = Tracker(["wandb"], tmp_path, "maxrl-test", "exp", {"a": 1}, total_steps=1)
    run_id = tracker.wandb_run_id
    tracker.log({"critic/score/mean": 0.5}, step=1)
    tracker.close()
    assert run_id and list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}"))


def test_unknown_backend_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"trainer.logger: unknown backends \['mlflow'\]"):
        Tracker(["file", "mlflow"], tmp_path, "p", "e", {}, total_steps=1)


def test_to_float_handles_tensors_numpy_and_bools():
    assert [to_float(torch.tensor([1.0, 3.0])), to_float(np.int64(3)), to_float(False)] == [2.0, 3.0, 0.0]
