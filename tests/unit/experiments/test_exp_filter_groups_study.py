"""The dynamic-sampling study's summary: validations placed at the samples generated, the equal-samples
budget, seed spreads, and the files it writes."""

import json

import pytest

from maxrl.experiments.filter_groups_study import main, summarise
from maxrl.experiments.run_configs import DONE_MARKER


def write_run(run_dir, samples_per_step, pass_at_1, done=True):
    """Two steps, each generating `samples_per_step`, validated after each with pass@1 = pass_at_1[i]."""
    run_dir.mkdir(parents=True)
    rows = []
    for step, (samples, p1) in enumerate(zip(samples_per_step, pass_at_1), start=1):
        rows.append({"step": step, "batch/samples_generated": samples, "timing_s/step": 2.0, "batch/gen_rounds": samples / 8,
                     "batch/groups_all_fail_frac": 0.5, "batch/groups_all_pass_frac": 0.25,
                     "batch/groups_mixed_frac": 0.25, "val/maze_9/pass@1": p1, "val/maze_9/pass@4": min(1.0, 2 * p1)})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    if done:
        (run_dir / DONE_MARKER).touch()


@pytest.fixture
def study(tmp_path):
    write_run(tmp_path / "maxrl_filter_off_seed1", [8, 8], [0.1, 0.2])
    write_run(tmp_path / "maxrl_filter_off_seed2", [8, 8], [0.3, 0.4])
    write_run(tmp_path / "maxrl_filter_on_seed1", [16, 24], [0.25, 0.5])
    write_run(tmp_path / "grpo_filter_on_seed1", [16, 16], [0.0, 0.1], done=False)  # unfinished: left out
    (tmp_path / "warm_start").mkdir()
    (tmp_path / "warm_start" / "metrics.jsonl").write_text(json.dumps({"step": 0, "val/maze_9/pass@1": 0.05,
                                                                        "val/maze_9/pass@4": 0.1}) + "\n")
    (tmp_path / "warm_start" / DONE_MARKER).touch()
    return tmp_path


def test_validations_sit_at_the_samples_generated_and_arms_compare_at_equal_samples(study):
    results = summarise(study)
    assert sorted(results["arms"]) == ["maxrl filter off", "maxrl filter on"]
    curve = results["runs"]["maxrl filter on"]["1"]
    assert [(p["samples"], p["pass@1"]) for p in curve["points"]] == [(0.0, 0.05), (16.0, 0.25), (40.0, 0.5)]
    assert results["budget_samples"] == 16  # the shortest arm's last validation
    off, on = results["arms"]["maxrl filter off"], results["arms"]["maxrl filter on"]
    assert off["last"]["pass@1"] == {"mean": pytest.approx(0.3), "min": 0.2, "max": 0.4, "n": 2}
    assert on["equal_samples"]["pass@1"]["mean"] == 0.25  # a validation falls on the budget
    assert off["equal_samples"]["pass@1"]["mean"] == pytest.approx(0.3)  # the last validations: 16 samples


def test_pass_at_k_at_equal_samples_is_interpolated_between_validations(tmp_path):
    write_run(tmp_path / "grpo_filter_off_seed1", [12, 12], [0.2, 0.6])  # 0.2 at 12 samples, 0.6 at 24
    write_run(tmp_path / "grpo_filter_on_seed1", [10, 10], [0.0, 0.5])  # 20 samples: the budget
    results = summarise(tmp_path)
    assert results["budget_samples"] == 20
    off, on = results["arms"]["grpo filter off"], results["arms"]["grpo filter on"]
    assert off["equal_samples"]["pass@1"]["mean"] == pytest.approx(0.2 + (20 - 12) / (24 - 12) * (0.6 - 0.2))
    assert on["equal_samples"]["pass@1"]["mean"] == 0.5


def test_the_summary_files(study, tmp_path):
    out = tmp_path / "summary"
    assert main([str(study), "--out", str(out)]) == 0
    assert (out / "samples.png").stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "| maxrl filter off | 2 | 0.300 (0.200..0.400) |" in table
    assert "Warm start: pass@1 0.050, pass@4 0.100." in table
    assert json.loads((out / "results.json").read_text())["ks"] == [1, 4]
