"""Tracking backends: the JSONL file (incl. resume), the console line, TensorBoard events, W&B offline."""

import json
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
    kept = [json.loads(line)["x"] for line in (tmp_path / "metrics.old-1.jsonl").read_text().splitlines()]
    assert kept == [0.0, 1.0, 2.0, 3.0]  # the steps the resume dropped are kept beside it


def test_a_fresh_run_in_the_same_folder_keeps_the_earlier_metrics(tmp_path, caplog):
    for run in (1, 2, 3):
        tracker = Tracker(["file"], tmp_path, "p", "e", {}, total_steps=1)
        tracker.log({"run": float(run)}, step=1)
        tracker.close()
    assert [row["run"] for row in read_metrics(tmp_path)] == [3.0]
    assert [json.loads((tmp_path / f"metrics.old-{k}.jsonl").read_text())["run"] for k in (1, 2)] == [1.0, 2.0]
    assert f"kept the earlier run's file as {tmp_path / 'metrics.old-2.jsonl'}; fresh start" in caplog.text


def test_a_last_line_cut_short_by_a_crash_is_skipped_on_resume(tmp_path, caplog):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "x": 1.0}\n{"step": 2, "x": 2.0}\n{"step": 3, "x"')
    assert [row["step"] for row in read_metrics(tmp_path)] == [1, 2]
    assert "skipping its last line, cut short by a crash" in caplog.text
    resumed = Tracker(["file"], tmp_path, "p", "e", {}, total_steps=4, start_step=2)
    resumed.log({"x": 3.5}, step=3)
    resumed.close()
    assert [(row["step"], row["x"]) for row in read_metrics(tmp_path)] == [(1, 1.0), (2, 2.0), (3, 3.5)]
    assert (tmp_path / "metrics.old-1.jsonl").read_text().endswith('{"step": 3, "x"')


def test_a_garbled_line_before_the_last_is_an_error_naming_file_and_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"st\n{"step": 3}\n')
    with pytest.raises(ValueError, match=f"{tmp_path / 'metrics.jsonl'}, line 2, is not a JSON row"):
        read_metrics(tmp_path)


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


def test_a_task_names_its_own_console_headline(tmp_path, capsys):
    tracker = Tracker(["console"], tmp_path, "p", "e", {}, total_steps=2, headline={"train/acc": "acc", "val/acc": "val_acc"})
    tracker.log({"train/acc": 0.5, "critic/score/mean": 0.25, "val/acc": 0.75, "val/pass@4": 1.0}, step=1)
    tracker.close()
    out = capsys.readouterr()
    assert "step 1 | acc 0.5 | val_acc 0.75 | val/pass@4 1" in out.out + out.err
