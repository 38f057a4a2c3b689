"""The task probe end to end on a tiny random model: its table and JSON (the numbers are noise here)."""

import json

from maxrl.experiments import task_probe


def test_probe_writes_pass_at_k_per_task(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "probe"
    argv = ["--model", str(tiny_model_dir), "--tasks", "legs_easy", "count_bits_7", "--problems", "3",
            "--samples", "4", "--max_new_tokens", "4", "--batch_size", "5", "--threads", "1", "--out", str(out)]
    assert task_probe.main(argv) == 0
    record = json.loads((out / "probe.json").read_text())
    legs = record["tasks"]["legs_easy"]
    assert legs["task"] == "leg_counting" and legs["problems"] == 3 and legs["samples"] == 4
    assert sorted(legs["pass_at_k"], key=int) == ["1", "2", "4"]
    assert all(0 <= count <= 4 for count in legs["num_correct"])
    assert len(legs["responses"]) == 12
    assert "| legs_easy | leg_counting |" in capsys.readouterr().out
    assert (out / "probe.md").read_text().count("\n") == 4
