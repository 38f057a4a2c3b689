"""Report format: results of a trivial measured function and synthetic training runs rendered to JSON and
Markdown; targets and scaling rows computed from known step times."""

import json

import pytest

from benchmarks.end_to_end import TrainingRun, scaling_rows
from benchmarks.machine import describe_machine, load_average
from benchmarks.process_tree import ProcessPeak, tree_cpu_seconds
from benchmarks.report import render_markdown, write_report
from benchmarks.stats import Comparison, compare, pool_trials
from benchmarks.targets import evaluate_targets
from benchmarks.workspace import RunShape


def training_run(n, workers, step_seconds, gen=1.0, update=2.0, cpu_per_wall=1.5):
    rows = [
        {"step": i + 2, "timing_s/gen": gen, "timing_s/reward": 0.01, "timing_s/update_actor": update,
         "timing_s/step": seconds, "perf/total_num_tokens": 96.0 * 4 * n}
        for i, seconds in enumerate(step_seconds)
    ]
    memory = [ProcessPeak("driver", 1, 500 * 2**20), ProcessPeak("worker", 2, 700 * 2**20),
              ProcessPeak("ray", 3, 100 * 2**20), ProcessPeak("ray", 4, 50 * 2**20)]
    shape = RunShape(n=n, workers=workers, prompts=4, steps=len(rows) + 1)
    cpu_s = [cpu_per_wall * seconds for seconds in step_seconds] if cpu_per_wall else []
    return TrainingRun(shape, 1, wall_s=100.0, all_step_s=[9.0, *step_seconds], measured=rows, memory=memory,
                       cpu_s=cpu_s)


def trivial_comparisons():
    """Two trials of a real (trivial) measured function, pooled."""
    def work():
        return float(sum(range(100)) * 0 + 64)

    return pool_trials([
        compare(("model.generate", work), {"rollout hf: worker.generate_sequences": work}, "generated tokens",
                repeats=3, warmup=1, cpu_clock=tree_cpu_seconds)
        for _ in range(2)
    ])


def known_update_comparison():
    """Two trials of an update comparison with known ratios, pooled (the baseline at 100 tokens/s).

    Rounds: trial 1 at ratios 1.0 and 1.5 (median 1.25), trial 2 at 0.75 and 1.0 (median 0.875); over all
    four rounds the ratio is 1.0 [0.9375, 1.125] and the framework rate 100 [91.67, 108.33] tokens/s.
    """
    trials = [(1.0, 1.5), (0.75, 1.0)]
    return pool_trials([
        {"update: worker.update_actor": Comparison(
            "update: worker.update_actor", "bare training loop", "tokens",
            rates=tuple(100 / ratio for ratio in ratios),
            baseline_rates=(100.0,) * len(ratios), ratios=ratios, cpu_ratios=None,
            trial_ratios=(sum(ratios) / 2,),
        )}
        for ratios in trials
    ])


@pytest.fixture
def results():
    runs_by_n = [training_run(8, 2, [4.0, 4.0, 5.0]), training_run(16, 2, [6.0]), training_run(32, 2, [20.0])]
    return {
        "suite": "test",
        "command": "python -m benchmarks.run --suite test",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_s": 12.5,
        "machine": describe_machine(),
        "trials": 2,
        "repeats": 3,
        "warmup": 1,
        "load": {"components": {"start": load_average(), "end": [1.0, 2.0, 3.0]}},
        "components_shape": RunShape(n=4, prompts=2, response_length=16).__dict__,
        "scaling_shape": RunShape(n=8, workers=2, prompts=4, response_length=32).__dict__,
        "components": [c.to_dict() for c in (trivial_comparisons() | known_update_comparison()).values()],
        "end_to_end": runs_by_n[0].to_dict(),
        "scaling_n": scaling_rows(runs_by_n, "n"),
        "scaling_workers": scaling_rows([training_run(8, 1, [6.0]), training_run(8, 2, [4.0])], "workers"),
    }


def test_training_run_phases_startup_and_dict():
    run = training_run(8, 2, [4.0, 4.0, 5.0])
    assert run.startup_s == pytest.approx(100.0 - 9.0 - 13.0)
    assert list(run.phases()) == ["gen", "reward", "update_actor", "step"]
    assert run.phase("step").median == 4.0 and run.phase("step").max == 5.0
    as_dict = run.to_dict()
    assert as_dict["measured_steps"] == 3 and as_dict["tokens_per_step"] == 96.0 * 32
    assert as_dict["memory"][1] == {"role": "worker", "pid": 2, "peak_mib": 700.0}


def test_scaling_rows_growth_against_the_first_run():
    rows = scaling_rows([training_run(8, 2, [4.0]), training_run(16, 2, [6.0]), training_run(32, 2, [20.0])], "n")
    assert [row["n"] for row in rows] == [8, 16, 32]
    assert [row["samples"] for row in rows] == [32, 64, 128]
    assert [row["growth"] for row in rows] == [1.0, 1.5, 5.0]
    assert [row["growth_per_unit"] for row in rows] == [1.0, 0.75, 1.25]
    assert [row["step_growth_per_unit"] for row in rows] == pytest.approx([1.0, 0.75, 20 / 6 / 2])
    assert [row["cpu_s"] for row in rows] == [6.0, 9.0, 30.0]
    assert [row["cpu_growth_per_unit"] for row in rows] == pytest.approx([1.0, 0.75, 1.25])


def test_scaling_rows_without_cpu_readings():
    rows = scaling_rows([training_run(8, 2, [4.0]), training_run(16, 2, [6.0], cpu_per_wall=0)], "n")
    assert [row["cpu_s"] for row in rows] == [6.0, None]
    assert [row["cpu_growth_per_unit"] for row in rows] == [None, None]
    assert rows[1]["growth_per_unit"] == 0.75


def test_targets_from_results(results):
    rollout, update = results["components"]
    rollout["ratio"]["median"], rollout["trial_ratios"] = 1.08, [1.02, 1.1149, 1.05]
    update["ratio"]["median"] = 1.2  # judged on the pooled median, whatever the trials' spread
    results["components"].append({"name": "log-prob: worker.compute_log_prob", "baseline": "bare forward",
                                  "ratio": {"median": 3.0}, "trial_ratios": [3.0, 3.0]})  # no target
    results["components"].append({"name": "rollout vllm: backend.generate", "baseline": "LLM.generate",
                                  "ratio": {"median": 1.05}, "trial_ratios": [1.05]})
    targets = evaluate_targets(results)
    assert [(t["value"], t["trial_range"], t["limit"], t["met"]) for t in targets] == [
        (1.08, [1.02, 1.115], 1.10, True), (1.2, [0.875, 1.25], 1.15, False), (1.05, None, 1.10, True),
        (1.25, None, 1.0, False), (1.25, None, 1.0, False),
    ]
    assert "step time grows at most linearly in rollout.n (8 -> 32)" in targets[3]["target"]
    assert targets[4]["target"].startswith("CPU seconds per step grows")


def test_targets_skip_what_was_not_measured():
    assert evaluate_targets({"components": [], "scaling_n": []}) == []


def test_markdown_has_every_section_and_row(results):
    results["targets"] = evaluate_targets(results)
    page = render_markdown(results)
    assert page.startswith("# maxrl benchmarks: suite `test`")
    for heading in ("## Framework calls against their baselines", "## One RL step, phase by phase",
                    "## Step time against rollout.n", "## Step time against the number of workers", "## Targets"):
        assert heading in page
    assert ("| framework call | baseline | framework rate | baseline rate | time ratio | trial medians "
            "| overhead | CPU ratio |") in page
    assert "| rollout hf: worker.generate_sequences | model.generate |" in page
    assert ("| update: worker.update_actor | bare training loop | 100 [91.7, 108] | 100 [100, 100] "
            "| 1.00 [0.938, 1.12] | 1.25, 0.875 | +0.0% | - |") in page
    assert ("2 trial(s) of 3 paired rounds after 1 warm-up round(s), each trial with a fresh worker "
            "process") in page
    assert "median [quartiles] over all rounds of all trials" in page
    assert "fewer trial medians" not in page
    assert ("| update: worker.update_actor vs bare training loop: time ratio <= 1.15 "
            "| 1.00 (trials 0.875-1.25) | yes |") in page
    assert "| step | 4.00 [4.00, 4.50] | 100.0% |" in page
    assert "| gen | 1.00 [1.00, 1.00] | 25.0% |" in page
    assert "| worker (pid 2) | 700 |" in page
    assert "| ray: 2 processes, sum | 150 |" in page
    assert "| 16 | 64 | 6.00 [6.00, 6.00] | 1.00 | 2.00 | 0.750 | 0.750 | 9.00 | 0.750 | 0.750 |" in page
    assert "| 32 | 128 | 20.0 [20.0, 20.0] | 1.00 | 2.00 | 1.25 | 1.67 | 30.0 | 1.25 | 1.67 |" in page
    assert "| 2 | 32 | 4.00 [4.00, 4.00] | 1.00 | 2.00 | 1.50 | 6.00 |" in page  # speedup 6 / 4
    assert ("CPU seconds per step, all processes, over the 3 measured step(s) whose start and end were seen: "
            "6.00 [6.00, 6.75] (1.50 cores busy on average).") in page
    assert "at end: 1.00 / 2.00 / 3.00." in page
    assert "4 prompts, 32 tokens per sample (no early stop); the n sweep on 2 workers, the worker sweep at n = 8" in page
    assert "| **no** |" in page  # the 8 -> 32 growth per unit is 1.25


def test_markdown_explains_a_comparison_of_fewer_trials(results):
    vllm = {**results["components"][1], "name": "rollout vllm: backend.generate", "baseline": "LLM.generate",
            "trial_ratios": [1.0]}
    results["components"].append(vllm)
    results["targets"] = evaluate_targets(results)
    page = render_markdown(results)
    assert ("(rows listing fewer trial medians ran fewer trials: the vLLM comparison runs one, "
            "on one engine).") in page
    assert "| rollout vllm: backend.generate vs LLM.generate: time ratio <= 1.10 | 1.00 | yes |" in page


def test_markdown_without_optional_sections(results):
    for key in ("components", "end_to_end", "scaling_n", "scaling_workers"):
        del results[key]
    page = render_markdown(results)
    assert "## " not in page and page.startswith("# maxrl benchmarks")


def test_write_report_round_trips(results, tmp_path):
    json_path, markdown_path = write_report(results, tmp_path / "out")
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(results))
    assert markdown_path.read_text() == render_markdown(results)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.json", "results.md"]  # no temp files
