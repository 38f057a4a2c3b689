"""Dynamic sampling end to end (real Ray, gloo, hf rollout) on tiny 7x7 mazes whose odd-index mazes never pay:
their groups are all-fail, so steps draw more rounds; the kept batch is always full; a resume from a
checkpoint repeats the uninterrupted run exactly, with the rollout colocated and on its own pool (staleness 1)."""

import pytest
from maze_runs import base_overrides, make_workspace, metrics_by_step, override_list, reproducible
from transformers import AutoModelForCausalLM

from maxrl.config import compose_config
from maxrl.trainer.main_ppo import run_ppo

# Odd-index mazes score 0 whatever the response (all-fail groups); the rest pay an even word count (about half).
HALF_THE_MAZES_NEVER_PAY = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    if extra_info["index"] % 2:
        return 0.0
    return float(len(solution_str.split()) % 2 == 0)
'''
STEPS = 3
ASYNC = ("actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=1",
         "algorithm.rollout_correction.rollout_is=token")
ASYNC_NOISE = ("perf/", "async/trainer_wait_s", "async/rollout_")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):  # 12 training prompts: four rounds of 3 per epoch
    return make_workspace(tmp_path_factory.mktemp("trainer_dynamic"), HALF_THE_MAZES_NEVER_PAY, train_rows=12)


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir, with_val=False),
        "data.train_batch_size=2", "data.gen_batch_size=3",
        "algorithm.filter_groups.enable=true", "algorithm.filter_groups.metric=acc",
        "algorithm.filter_groups.max_num_gen_batches=0",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=4", "trainer.n_gpus_per_node=1",
        f"trainer.total_training_steps={STEPS}", "trainer.save_freq=2", "trainer.test_freq=-1",
        *extra,
    )


def final_weights(run_dir):
    return AutoModelForCausalLM.from_pretrained(run_dir / f"global_step_{STEPS}" / "actor" / "huggingface").state_dict()


def run_and_resume(workspace, name, *extra):
    """The uninterrupted run and one resumed from its step-2 checkpoint; their folders."""
    run_dir, resumed_dir = workspace / name, workspace / f"{name}_resumed"
    run_ppo(compose_config(overrides(workspace, run_dir, *extra)))
    run_ppo(compose_config(overrides(workspace, resumed_dir, *extra, "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={run_dir / 'global_step_2'}")))
    return run_dir, resumed_dir


def assert_full_filtered_batches(rows):
    assert sorted(rows) == list(range(1, STEPS + 1))
    for step, row in rows.items():
        assert row["batch/groups_kept"] == 2 and row["batch/groups_incomplete"] == 0, step
        assert row["batch/gen_rounds"] == row["train/num_gen_batches"] >= 1
        assert row["batch/groups_generated"] == 3 * row["batch/gen_rounds"]
        assert row["batch/samples_per_kept_group"] == 4 * row["batch/groups_generated"] / 2
        assert row["batch/groups_all_fail_frac"] > 0  # the odd-index mazes
        fractions = sum(row[f"batch/groups_{kind}_frac"] for kind in ("all_fail", "all_pass", "mixed"))
        assert fractions == pytest.approx(1.0)
        assert row["batch/groups_zero_spread"] == row["batch/groups_generated"] * (1 - row["batch/groups_mixed_frac"])
    assert any(row["batch/gen_rounds"] > 1 for row in rows.values())  # backfill happened


def assert_resume_is_exact(run_dir, resumed_dir, noise=()):
    resumed, original = metrics_by_step(resumed_dir), metrics_by_step(run_dir)
    assert sorted(resumed) == [3]
    assert reproducible(resumed[3], noise) == reproducible(original[3], noise)
    weights, reference = final_weights(resumed_dir), final_weights(run_dir)
    assert all(weights[name].equal(reference[name]) for name in reference)


def test_filtering_trains_with_full_batches_and_resumes_exactly(workspace, ray_cluster):
    run_dir, resumed_dir = run_and_resume(workspace, "sync")
    assert_full_filtered_batches(metrics_by_step(run_dir))
    assert_resume_is_exact(run_dir, resumed_dir)


def test_filtering_with_the_rollout_a_step_ahead_resumes_exactly(workspace, ray_cluster):
    run_dir, resumed_dir = run_and_resume(workspace, "async", *ASYNC)
    rows = metrics_by_step(run_dir)
    assert_full_filtered_batches(rows)
    assert [rows[s]["async/staleness_max"] for s in (1, 2, 3)] == [0, 1, 1]  # round 0 was drawn a step ahead
    assert_resume_is_exact(run_dir, resumed_dir, ASYNC_NOISE)
