"""The maze study's summary: pass@k per seed from the saved validation counts, seed statistics, MaxRL's
paired differences with their exact sign-flip p-values, and the files it writes."""

import json

import pytest

from maxrl.experiments.maze_compare import main, paired_difference, sign_flip_p_value, summarise
from maxrl.experiments.run_configs import DONE_MARKER


def write_run(run_dir, correct, samples=4, step=10):
    """A finished run whose last validation solved `correct[i]` of `samples` draws of maze i."""
    (run_dir / "validation").mkdir(parents=True)
    counts = {"prompt": [f"m{i}" for i in range(len(correct))], "num_samples": [samples] * len(correct),
              "num_correct": list(correct)}
    (run_dir / "validation" / f"step_{step}.json").write_text(json.dumps({"step": step, "data_sources": {"maze_9": counts}}))
    (run_dir / DONE_MARKER).touch()


@pytest.fixture
def study(tmp_path):
    """N=4, three seeds; MaxRL solves one more draw than GRPO on every seed, RLOO alternates."""
    for seed in (1, 2, 3):
        write_run(tmp_path / "n4" / f"maxrl_seed{seed}", [2, 1, seed])
        write_run(tmp_path / "n4" / f"grpo_seed{seed}", [1, 1, seed])
        write_run(tmp_path / "n4" / f"rloo_seed{seed}", [2, 1, seed + (1 if seed % 2 else -1)])
    write_run(tmp_path / "n4" / "grpo_seed4", [4, 4, 4])  # no MaxRL partner: left out of the pairs
    (tmp_path / "n4" / "rloo_seed9").mkdir()  # unfinished: no marker, left out entirely
    write_run(tmp_path / "warm_start", [1, 0, 0], step=0)
    return tmp_path


def test_sign_flip_p_values_are_exact():
    assert sign_flip_p_value([0.1, 0.2, 0.3, 0.4, 0.5]) == 2 / 32  # only all-plus and all-minus are as extreme
    assert sign_flip_p_value([1, -1, 1, -1, 1]) == 1.0
    assert sign_flip_p_value([0.0, 0.0]) == 1.0
    with pytest.raises(ValueError, match="1..16 differences"):
        sign_flip_p_value([])


def test_paired_differences_use_only_the_seeds_both_methods_ran(study):
    summary = summarise(study)
    methods = summary["rollouts"][4]["methods"]
    assert sorted(methods["grpo"]["per_seed"]) == [1, 2, 3, 4] and sorted(methods["rloo"]["per_seed"]) == [1, 2, 3]
    record = paired_difference(methods["maxrl"]["per_seed"], methods["grpo"]["per_seed"], k=1)
    assert record["seeds"] == [1, 2, 3] and record["wins"] == 3
    assert record["mean"] == pytest.approx(1 / 12)  # one more success of 4 draws on one of 3 mazes
    assert record["p_value"] == pytest.approx(2 / 8)
    k2 = paired_difference(methods["maxrl"]["per_seed"], methods["grpo"]["per_seed"], k=2)
    assert k2["differences"] == pytest.approx([(5 / 6 - 1 / 2) / 3] * 3)  # maze 0: 2 of 4 against 1 of 4
    assert paired_difference(methods["maxrl"]["per_seed"], methods["grpo"]["per_seed"], k=8) is None


def test_the_summary_files_hold_the_table_plot_and_every_curve(study, tmp_path):
    out = tmp_path / "summary"
    assert main([str(study), "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "| 4 | maxrl | 3 |" in table and "| 4 | grpo | 4 |" in table
    assert "| 4 | maxrl − grpo | 1 | +0.083 (+0.083 to +0.083) | 3/3 | 0.250 |" in table
    results = json.loads((out / "results.json").read_text())
    assert results["warm_start"]["pass_at_k"][0] == pytest.approx(1 / 12)
    assert (out / "pass_at_k.png").stat().st_size > 0


def add_validation(run_dir, correct, samples, step):
    counts = {"prompt": [f"m{i}" for i in range(len(correct))], "num_samples": [samples] * len(correct),
              "num_correct": list(correct)}
    (run_dir / "validation" / f"step_{step}.json").write_text(json.dumps({"step": step, "data_sources": {"maze_9": counts}}))


def test_learning_curves_follow_every_validation_and_start_at_the_warm_start(study, tmp_path):
    for seed in (1, 2, 3):
        add_validation(study / "n4" / f"maxrl_seed{seed}", [0, 0, 1], samples=4, step=5)
    methods = summarise(study)["rollouts"][4]["methods"]
    curve = methods["maxrl"]["learning_curves"][1]
    assert curve["steps"] == [5, 10]
    assert curve["pass_at_k"][1] == pytest.approx([1 / 12, 4 / 12])  # one of 12 draws, then 2 + 1 + 1 of 12
    assert curve["pass_at_k"][64] == [None, None]  # 4 draws per maze cannot estimate pass@64
    stats = methods["maxrl"]["learning_stats"]
    assert stats["steps"] == [5, 10] and stats[1]["min"][1] == pytest.approx(4 / 12)
    assert stats[1]["max"][1] == pytest.approx(6 / 12)  # seed 3 solves 3 of 4 draws of maze 2
    assert methods["grpo"]["learning_stats"]["steps"] == [10]  # only the steps every seed validated
    out = tmp_path / "summary"
    main([str(study), "--out", str(out)])
    flat = json.loads((out / "summary.json").read_text())
    assert flat["warm_start"]["1"] == pytest.approx(1 / 12)
    assert flat["final_pass_at_k"]["maxrl"]["4"]["1"]["1"] == pytest.approx(4 / 12)
    assert flat["final_step"]["grpo"]["4"]["4"] == 10
    assert flat["learning_curves"]["maxrl"]["4"]["2"]["steps"] == [5, 10]
    assert (out / "learning_curves.png").stat().st_size > 0
