"""The whole stack on CPU: Ray, 2 FSDP2 workers (gloo), HF rollout, reward manager, validation, checkpoints.

One 3-step run on tiny 7x7 mazes (8 training prompts, 4 per step: step 3 starts the second epoch) is shared
by the tests; resumed runs from its checkpoints must reproduce its later steps exactly.
"""

import json
import math
import shutil
import subprocess
import sys

import pytest
from maze_runs import (
    FIRST_WORD_DOWN_SCORER,
    base_overrides,
    make_workspace,
    metrics_by_step,
    override_list,
    reproducible,
)
from transformers import AutoModelForCausalLM

from maxrl.config import compose_config
from maxrl.trainer.checkpoint import TRACKER_FILE
from maxrl.trainer.main_ppo import run_ppo
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.safe_state import CheckpointError


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):  # 8 training prompts: exactly two steps of 4 prompts per epoch
    return make_workspace(tmp_path_factory.mktemp("trainer_e2e"), FIRST_WORD_DOWN_SCORER, train_rows=8)


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir),
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.optim.lr=1e-2",
        "actor_rollout_ref.rollout.n=4", "actor_rollout_ref.rollout.val_kwargs.n=4",
        "trainer.n_gpus_per_node=2", "trainer.total_training_steps=3", "trainer.save_freq=1", "trainer.test_freq=2",
        *extra,
    )


@pytest.fixture(scope="module")
def run_a(workspace, ray_cluster):
    run_dir = workspace / "run_a"
    run_ppo(compose_config(overrides(workspace, run_dir)))
    return run_dir


def test_run_logs_validates_and_checkpoints(run_a):
    rows = metrics_by_step(run_a)
    assert sorted(rows) == [0, 1, 2, 3]
    for step in (0, 2, 3):  # before training, test_freq=2, after the last step
        assert 0.0 <= rows[step]["val/maze_7/pass@1"] <= rows[step]["val/maze_7/pass@4"] <= 1.0
        assert (run_a / "validation" / f"step_{step}.json").is_file()
    assert "val/maze_7/pass@1" not in rows[1]
    for key in ("critic/score/mean", "actor/pg_loss", "actor/grad_norm", "actor/entropy", "response_length/mean",
                "train_pass_rate/fraction_mixed", "training/rollout_probs_diff_mean", "timing_s/gen",
                "timing_s/update_actor", "perf/throughput", "global_seqlen/balanced_max"):
        assert math.isfinite(rows[1][key]), key
    for step in (1, 2, 3):  # the zero-signal census, without filtering: one round, every group kept
        assert rows[step]["batch/gen_rounds"] == rows[step]["train/num_gen_batches"] == 1
        assert rows[step]["batch/groups_kept"] == 4 and rows[step]["batch/samples_per_kept_group"] == 4
        assert rows[step]["batch/groups_mixed_frac"] == rows[step]["train_pass_rate/fraction_mixed"]
        assert rows[step]["batch/groups_all_fail_frac"] == rows[step]["train_pass_rate/fraction_zero"]
    assert [rows[s]["training/epoch"] for s in (1, 2, 3)] == [0, 0, 1]  # 8 prompts / 4 per step
    assert any(rows[s]["actor/grad_norm"] > 0 for s in (1, 2, 3))  # the scorer gives a learning signal
    assert (run_a / TRACKER_FILE).read_text() == "3\n"
    for step in (1, 2, 3):
        step_dir = run_a / f"global_step_{step}"
        assert (step_dir / "data.json").is_file() and (step_dir / "trainer_state.json").is_file()
        assert (step_dir / "actor" / "extra_state_rank1.json").is_file()  # both ranks wrote their state
    assert not list(run_a.glob("*.tmp-*")) and not list(run_a.glob(".global_step_*"))  # no leftovers of the saves
    counts = json.loads((run_a / "validation" / "step_3.json").read_text())["data_sources"]["maze_7"]
    assert counts["num_samples"] == [4, 4, 4, 4]


def test_hugging_face_export_loads(run_a, workspace):
    exported = AutoModelForCausalLM.from_pretrained(run_a / "global_step_3" / "actor" / "huggingface")
    initial = AutoModelForCausalLM.from_pretrained(workspace / "model")
    assert exported.config.vocab_size == initial.config.vocab_size == 32
    changed = [name for name, p in exported.state_dict().items() if not p.equal(initial.state_dict()[name])]
    assert changed  # three updates moved the weights


def test_resume_at_the_epoch_boundary_is_exact(run_a, workspace):
    run_b = workspace / "run_b"
    run_ppo(compose_config(overrides(workspace, run_b, "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={run_a / 'global_step_2'}")))
    resumed, original = metrics_by_step(run_b), metrics_by_step(run_a)
    assert sorted(resumed) == [3]
    assert reproducible(resumed[3]) == reproducible(original[3])


def test_auto_resume_after_a_kill_mid_save_is_exact(run_a, workspace):
    run_c = workspace / "run_c"  # run A as if it had been killed while saving step 2 (mid-epoch)
    shutil.copytree(run_a, run_c, ignore=shutil.ignore_patterns("global_step_2", "global_step_3"))
    (run_c / TRACKER_FILE).write_text("1\n")
    shutil.copytree(run_a / "global_step_2", run_c / "global_step_2.tmp-4242",
                    ignore=shutil.ignore_patterns("trainer_state.json", "huggingface"))
    with (run_c / "metrics.jsonl").open("a") as metrics:
        metrics.write('{"step": 4, "critic/sco')  # a line cut short by the kill
    run_ppo(compose_config(overrides(workspace, run_c, "trainer.resume_mode=auto")))
    resumed, original = metrics_by_step(run_c), metrics_by_step(run_a)
    assert sorted(resumed) == [0, 1, 2, 3]
    for step in (2, 3):
        assert reproducible(resumed[step]) == reproducible(original[step]), step
    assert not (run_c / "global_step_2.tmp-4242").exists()
    assert (run_c / "metrics.old-1.jsonl").is_file()  # the rows the resume dropped are kept beside it


def test_a_truncated_shard_names_the_file_and_the_previous_checkpoint(run_a, workspace):
    run_f = workspace / "run_f"
    shutil.copytree(run_a, run_f)
    shard = run_f / "global_step_3" / "actor" / "__1_0.distcp"  # rank 1's shard
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"cannot resume from {run_f / 'global_step_3'}") as error:
        run_ppo(compose_config(overrides(workspace, run_f, "trainer.resume_mode=auto")))
    assert f"{shard} is truncated: 100 bytes" in str(error.value)
    assert (f"Resume from global_step_2 with trainer.resume_mode=resume_path "
            f"trainer.resume_from_path={run_f / 'global_step_2'}") in str(error.value)


def test_val_only_reproduces_the_last_validation(run_a, workspace):
    run_d = workspace / "run_d"
    run_ppo(compose_config(overrides(workspace, run_d, "trainer.val_only=True", "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={run_a / 'global_step_3'}")))
    (validated,) = read_metrics(run_d)
    original = metrics_by_step(run_a)[3]
    assert validated["step"] == 3
    val_keys = [key for key in validated if key.startswith(("val/", "val-core/", "val-aux/", "validation_"))]
    assert len(val_keys) > 10
    assert {key: validated[key] for key in val_keys} == {key: original[key] for key in val_keys}
    assert not list(run_d.glob("global_step_*"))  # validation only: nothing trained or saved


def test_kl_in_reward_and_kl_loss_use_the_reference(workspace):
    run_e = workspace / "run_e"
    run_ppo(compose_config(overrides(
        workspace, run_e, "algorithm.adv_estimator=grpo", "algorithm.use_kl_in_reward=True",
        "algorithm.kl_ctrl.type=adaptive", "algorithm.kl_ctrl.kl_coef=0.05", "algorithm.kl_ctrl.target_kl=0.001",
        "algorithm.kl_ctrl.horizon=16", "actor_rollout_ref.actor.use_kl_loss=True", "data.val_files=null",
        "trainer.val_before_train=False", "trainer.total_training_steps=2", "trainer.save_freq=-1",
    )))
    rows = metrics_by_step(run_e)
    assert sorted(rows) == [1, 2] and not list(run_e.glob("global_step_*"))
    assert rows[1]["actor/reward_kl_penalty"] == pytest.approx(0.0, abs=1e-6)  # reference = policy at step 1
    assert rows[1]["actor/reward_kl_penalty_coeff"] == 0.05
    assert rows[2]["actor/reward_kl_penalty"] > 0  # the policy moved away from the reference
    assert rows[2]["actor/reward_kl_penalty_coeff"] < 0.05  # step 1 had KL below target: beta shrank
    assert rows[2]["timing_s/ref"] > 0


def test_plot_commands_on_the_run_folder(run_a, workspace, tmp_path):
    def plot(*args):
        return subprocess.run([sys.executable, "-m", "maxrl.trainer.plots", *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    result = plot("run", run_a, "--out", tmp_path / "plots")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["pass_at_k_maze_7.png", "training_curves.png"]
    summary = plot("summary", run_a)
    assert summary.returncode == 0 and summary.stdout.count("maze_7") == 3
    compare = plot("compare", run_a, workspace / "run_b", "--labels", "a", "b", "--out", tmp_path / "cmp")
    assert compare.returncode == 0, compare.stderr
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["maze_7"]["steps"] == {"a": 3, "b": 3}


def test_an_on_policy_step_skips_the_old_log_prob_pass_with_the_same_result(workspace):
    """One mini-batch per step: ``auto`` skips the pass; ``always`` runs it; the training is the same.
    (The weight-sync check runs too, so its gap must reach the step's metrics.)"""
    on_policy = ("actor_rollout_ref.actor.ppo_mini_batch_size=4", "data.val_files=null",
                 "actor_rollout_ref.rollout.check_weight_sync=true",
                 "trainer.val_before_train=False", "trainer.total_training_steps=2", "trainer.save_freq=-1")
    runs = {}
    for mode in ("auto", "always"):
        run_dir = workspace / f"run_recompute_{mode}"
        run_ppo(compose_config(overrides(workspace, run_dir, *on_policy,
                                         f"actor_rollout_ref.actor.recompute_old_log_prob={mode}")))
        runs[mode] = metrics_by_step(run_dir)
    skipped, recomputed = runs["auto"], runs["always"]
    assert "timing_s/old_log_prob" not in skipped[1] and recomputed[1]["timing_s/old_log_prob"] > 0
    for step in (1, 2):  # step 2 samples from the weights step 1 trained: equal rewards mean equal updates
        assert skipped[step]["critic/score/mean"] == recomputed[step]["critic/score/mean"]
        for key in ("actor/pg_loss", "actor/grad_norm", "actor/entropy"):
            assert skipped[step][key] == pytest.approx(recomputed[step][key], rel=1e-5), (step, key)
        assert skipped[step]["actor/ppo_kl"] == 0.0 and skipped[step]["actor/pg_clipfrac"] == 0.0
        assert skipped[step]["rollout/weight_sync_max_abs_logprob_diff"] < 1e-4  # fp32 actor and hf rollout
        assert skipped[step]["training/rollout_log_probs_diff_mean"] < 1e-5  # from the update's own forward
        assert "training/rollout_log_probs_diff_max" in recomputed[step]  # the pass gives max and std too


def test_rollout_correction_weights_the_update_and_logs_its_metrics(workspace):
    """Token TIS, geometric (seq_mean_k1) rejection and the veto on a 1-step run (fp32 hf rollout: weights ~1)."""
    run_dir = workspace / "run_rollout_correction"
    key = "algorithm.rollout_correction."
    correction = (key + "rollout_is=token", key + "rollout_rs=seq_mean_k1", key + "rollout_rs_threshold=1.001",
                  key + "rollout_token_veto_threshold=1e-4")
    run_ppo(compose_config(overrides(workspace, run_dir, *correction, "data.val_files=null",
                                     "trainer.val_before_train=False", "trainer.total_training_steps=1",
                                     "trainer.save_freq=-1")))
    (row,) = read_metrics(run_dir)
    assert row["rollout_corr/weight_mean"] == pytest.approx(1.0, abs=1e-4)
    assert row["rollout_corr/rollout_is_mean"] == pytest.approx(1.0, abs=1e-4)
    assert row["rollout_corr/rollout_is_ratio_fraction_high"] == 0.0
    assert row["rollout_corr/rollout_rs_masked_fraction"] == 0.0
    assert math.isfinite(row["actor/pg_loss"]) and math.isfinite(row["actor/grad_norm"])
