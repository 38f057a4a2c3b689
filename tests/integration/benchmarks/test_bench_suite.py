"""The benchmark suite's real path on a tiny suite: component trials through a Ray worker group, whole RL
steps through `run_ppo`, both sweeps, targets and the report (the `cpu` suite is the same code, larger).
No speed is asserted: only that every measurement exists, is positive and is reported."""

import pytest

from benchmarks.report import render_markdown
from benchmarks.run import SECTIONS, run_suite
from benchmarks.suites import Suite
from benchmarks.workspace import RunShape

TINY_STEP = RunShape(n=2, workers=2, prompts=2, response_length=4, ignore_eos=True)
TINY = Suite(
    name="tiny", trials=2, repeats=1, warmup=0,
    component_shape=RunShape(n=2, prompts=2, response_length=4),
    training_shape=TINY_STEP, scaling_shape=TINY_STEP,  # the same run serves both sections
    warmup_steps=1, measured_steps=1, n_values=(2, 4), worker_values=(2,),
)


@pytest.fixture(scope="module")
def results(ray_cluster, tmp_path_factory):
    return run_suite(TINY, SECTIONS, tmp_path_factory.mktemp("bench"), "pytest")


def test_components_are_pooled_over_fresh_worker_trials(results):
    rows = {row["name"]: row for row in results["components"]}
    assert set(rows) == {"rollout hf: worker.generate_sequences", "rollout hf: backend.generate",
                         "log-prob: worker.compute_log_prob", "update: worker.update_actor"}
    for row in rows.values():
        assert len(row["trial_ratios"]) == 2 and len(row["round_ratios"]) == 2
        assert row["ratio"]["median"] > 0 and row["rate"]["median"] > 0 and row["baseline_rate"]["median"] > 0


def test_one_step_by_phase_with_memory(results):
    step = results["end_to_end"]
    assert step["measured_steps"] == 1 and step["tokens_per_step"] > 0
    assert {"gen", "reward", "adv", "update_actor", "step"} <= set(step["phases"])
    assert "old_log_prob" not in step["phases"]  # one on-policy optimizer step: the pass is skipped
    roles = [peak["role"] for peak in step["memory"]]
    assert roles[0] == "driver" and roles.count("worker") == 2 and all(p["peak_mib"] > 0 for p in step["memory"])


def test_sweeps_targets_and_report(results):
    assert [row["n"] for row in results["scaling_n"]] == [2, 4]
    assert [row["workers"] for row in results["scaling_workers"]] == [2]
    assert all(row["step_s"]["median"] > 0 for row in results["scaling_n"] + results["scaling_workers"])
    targets = {row["target"].split(":")[0] for row in results["targets"]}
    assert any(target.startswith("rollout hf") for target in targets) and any(t.startswith("update") for t in targets)
    markdown = render_markdown(results)
    for heading in ("## Framework calls against their baselines", "## One RL step, phase by phase",
                    "## Step time against rollout.n", "## Targets"):
        assert heading in markdown
