"""The plot commands on a run folder written by the tracker and the validation counts writer."""

import json
from math import comb

import pytest

from maxrl.trainer.plots import main
from maxrl.trainer.tracking import Tracker
from maxrl.trainer.val_metrics import write_counts


def make_run(run_dir, correct_per_prompt, n=16):
    tracker = Tracker(["file"], run_dir, "p", "e", {}, total_steps=2)
    for step in (1, 2):
        tracker.log({"critic/score/mean": 0.1 * step, "actor/pg_loss": -0.01, "val/maze/pass@1": 0.2}, step=step)
    tracker.close()
    counts = {"maze": {"prompt": [str(i) for i in range(len(correct_per_prompt))],
                       "num_samples": [n] * len(correct_per_prompt), "num_correct": correct_per_prompt}}
    write_counts(run_dir, 0, counts)
    write_counts(run_dir, 2, counts)
    return run_dir


def test_run_command_writes_pngs(tmp_path):
    run = make_run(tmp_path / "run", [1, 4, 0, 16])
    assert main(["run", str(run)]) == 0
    pngs = sorted(p.name for p in (run / "plots").glob("*.png"))
    assert pngs == ["pass_at_k_maze.png", "training_curves.png"]
    assert all((run / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)


def test_compare_reports_the_test_time_scaling_efficiency(tmp_path, capsys):
    maxrl = make_run(tmp_path / "maxrl", [2, 2, 2, 2])
    grpo = make_run(tmp_path / "grpo", [1, 1, 0, 0])  # pass@16 = 0.5
    assert main(["compare", str(maxrl), str(grpo), "--labels", "maxrl", "grpo", "--out", str(tmp_path / "cmp")]) == 0
    efficiency = json.loads((tmp_path / "cmp" / "compare.json").read_text())["maze"]["efficiency"]
    # maxrl's pass@4 = 1 - C(14,4)/C(16,4) and pass@8 = 1 - C(14,8)/C(16,8) bracket 0.5; interpolate in log2 k.
    pass4, pass8 = 1 - comb(14, 4) / comb(16, 4), 1 - comb(14, 8) / comb(16, 8)
    k_star = 2 ** (2 + (0.5 - pass4) / (pass8 - pass4))
    assert (efficiency["k_max"], efficiency["target"]) == (16, pytest.approx(0.5))
    assert efficiency["k_star"] == pytest.approx(k_star) and efficiency["ratio"] == pytest.approx(16 / k_star)
    assert (tmp_path / "cmp" / "compare_pass_at_k_maze.png").exists()
    assert f"{16 / k_star:.3g}x fewer samples" in capsys.readouterr().out


def test_summary_prints_pass_at_k_per_validation(tmp_path, capsys):
    run = make_run(tmp_path / "run", [16, 0])
    assert main(["summary", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "step     0  maze  (2 prompts)  pass@1 0.500  pass@2 0.500  pass@4 0.500  pass@8 0.500  pass@16 0.500"
    assert lines[1].startswith("step     2  maze")


def test_run_without_validations_is_a_clear_error(tmp_path):
    Tracker(["file"], tmp_path, "p", "e", {}, total_steps=1).close()
    with pytest.raises(FileNotFoundError, match="no validation/step_<N>.json files"):
        main(["run", str(tmp_path)])
