"""The config validation pass: each problem is caught before anything starts and names the key to change."""

import pandas as pd
import pytest

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError, check_config, validation_ks


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A model folder (a config.json is all the checks look at) and two parquet files."""
    root = tmp_path_factory.mktemp("checks")
    model = root / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    rows = pd.DataFrame({"data_source": ["maze_5"], "prompt": [[{"role": "user", "content": "x"}]]})
    for name in ("train", "val"):
        rows.to_parquet(root / f"{name}.parquet")
    return root


def valid_overrides(files):
    return [
        f"actor_rollout_ref.model.path={files / 'model'}",
        f"data.train_files={files / 'train.parquet'}",
        f"data.val_files={files / 'val.parquet'}",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "actor_rollout_ref.rollout.n=4",
        "actor_rollout_ref.rollout.val_kwargs.n=4",
        "actor_rollout_ref.rollout.val_kwargs.do_sample=True",
        "actor_rollout_ref.rollout.val_kwargs.temperature=1.0",
        "trainer.n_gpus_per_node=2",
        "trainer.device=cpu",
    ]


def problems(files, *overrides):
    with pytest.raises(ConfigError) as raised:
        check_config(compose_config([*valid_overrides(files), *overrides]))
    return raised.value.problems


def test_a_valid_config_passes(files):
    check_config(compose_config(valid_overrides(files)))


@pytest.mark.parametrize(
    "override, expected",
    [
        ("data.train_batch_size=abc", "data.train_batch_size='abc' must be a positive integer"),
        ("actor_rollout_ref.actor.clip_ratio_c=1.0", "actor_rollout_ref.actor.clip_ratio_c=1.0 must be a number > 1"),
        ("actor_rollout_ref.actor.loss_agg_mode=mean", "actor_rollout_ref.actor.loss_agg_mode='mean' must be one of"),
        ("trainer.resume_mode=latest", "trainer.resume_mode='latest' must be one of ['auto', 'disable', 'resume_path']"),
        ("trainer.save_freq=0", "trainer.save_freq=0 must be -1 (off) or a positive integer"),
        ("trainer.critic_warmup=5", "trainer.critic_warmup=5: algorithm.adv_estimator=maxrl trains no critic"),
        ("actor_rollout_ref.rollout.multi_turn.enable=true",
         "actor_rollout_ref.rollout.multi_turn.enable=true needs actor_rollout_ref.rollout.multi_turn.tool_config_path"),
        ("actor_rollout_ref.rollout.multi_turn.tool_response_truncate_side=top",
         "tool_response_truncate_side='top' must be one of ['left', 'middle', 'right']"),
        ("actor_rollout_ref.rollout.multi_turn.format=json",
         "actor_rollout_ref.rollout.multi_turn.format='json' must be one of ['hermes']"),
        ("critic.cliprange_value=0", "critic.cliprange_value=0 must be a number > 0"),
        ("trainer.logger=[console,mlflow]", "trainer.logger=['console', 'mlflow'] has unknown backends ['mlflow']"),
        ("+actor_rollout_ref.rollout.micro_batch_size=0", "actor_rollout_ref.rollout.micro_batch_size=0 must be a positive integer"),
    ],
)
def test_type_errors_name_the_key(files, override, expected):
    assert any(expected in problem for problem in problems(files, override))


def test_missing_model_path(files):
    assert problems(files, "actor_rollout_ref.model.path=null") == [
        "actor_rollout_ref.model.path is not set; give the folder of a Hugging Face causal LM"
    ]


def test_model_folder_without_config(files):
    (found,) = problems(files, f"actor_rollout_ref.model.path={files}")
    assert found.startswith(f"actor_rollout_ref.model.path='{files}': no config.json there")


def test_missing_data_files(files):
    found = problems(files, "data.train_files=/nowhere/train.parquet", "data.val_files=[/nowhere/val.parquet]")
    assert found == ["data.train_files: file /nowhere/train.parquet not found", "data.val_files: file /nowhere/val.parquet not found"]


def test_missing_train_files(files):
    assert problems(files, "data.train_files=null") == ["data.train_files is not set; give a parquet file or a list of them"]


def test_missing_custom_reward_file(files):
    (found,) = problems(files, "custom_reward_function.path=/nowhere/score.py")
    assert found == "custom_reward_function.path='/nowhere/score.py': file not found"


def test_custom_reward_file_without_the_function(files, tmp_path):
    scorer = tmp_path / "score.py"
    scorer.write_text("def other(data_source, solution_str, ground_truth, extra_info=None):\n    return 0.0\n")
    (found,) = problems(files, f"custom_reward_function.path={scorer}", "custom_reward_function.name=my_score")
    assert found.startswith("custom_reward_function:") and "my_score" in found


def test_unknown_estimator(files):
    (found,) = problems(files, "algorithm.adv_estimator=ppo_magic")
    assert "unknown advantage estimator 'ppo_magic' (algorithm.adv_estimator)" in found


@pytest.mark.parametrize("estimator", ["maxrl", "grpo", "rloo"])
def test_group_estimators_need_two_samples_per_prompt(files, estimator):
    (found,) = problems(files, f"algorithm.adv_estimator={estimator}", "actor_rollout_ref.rollout.n=1")
    assert found == (
        f"actor_rollout_ref.rollout.n=1: algorithm.adv_estimator={estimator} needs at least 2 samples per "
        "prompt; set actor_rollout_ref.rollout.n >= 2"
    )


@pytest.mark.parametrize("estimator", ["gae", "remax"])
def test_estimators_needing_values_or_greedy_baselines_are_accepted(files, estimator):
    check_config(compose_config([*valid_overrides(files), f"algorithm.adv_estimator={estimator}"]))


def test_the_critic_needs_a_model_folder_and_working_batch_sizes(files, tmp_path):
    found = problems(files, "algorithm.adv_estimator=gae", f"critic.model.path={tmp_path}",
                     "critic.ppo_mini_batch_size=3")
    assert found == [
        f"critic.model.path='{tmp_path}': no config.json there (not a Hugging Face model folder)",
        "critic.ppo_mini_batch_size=3 does not divide data.train_batch_size=4; values that work: [1, 2, 4]",
    ]


def test_pass_at_k_needs_enough_validation_samples(files):
    (found,) = problems(files, "trainer.val_pass_ks=[1,2,8]")
    assert found.startswith("actor_rollout_ref.rollout.val_kwargs.n=4: pass@k for k=8 (trainer.val_pass_ks)")
    assert found.endswith("set actor_rollout_ref.rollout.val_kwargs.n >= 8")


def test_validation_ks_default_to_powers_of_two_up_to_n(files):
    config = compose_config([*valid_overrides(files), "actor_rollout_ref.rollout.val_kwargs.n=12"])
    assert validation_ks(config) == [1, 2, 4, 8]
    config = compose_config([*valid_overrides(files), "trainer.val_pass_ks=[3,1]"])
    assert validation_ks(config) == [1, 3]


def test_batch_sizes_that_do_not_divide(files):
    (found,) = problems(files, "actor_rollout_ref.actor.ppo_mini_batch_size=3")
    assert found.startswith("actor_rollout_ref.actor.ppo_mini_batch_size=3 does not divide data.train_batch_size=4")


def test_samples_that_do_not_split_over_ranks(files):
    (found,) = problems(files, "actor_rollout_ref.rollout.n=3", "actor_rollout_ref.actor.ppo_mini_batch_size=1", "trainer.n_gpus_per_node=2")
    assert "actor_rollout_ref.actor.ppo_mini_batch_size=1 times actor_rollout_ref.rollout.n=3" in found
    assert "values that work: [2, 4]" in found


def test_cuda_without_a_gpu(files):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (found,) = problems(files, "trainer.device=cuda")
    assert found == "trainer.device=cuda but torch sees no CUDA device; use trainer.device=cpu (or auto)"


def test_unknown_reward_kwargs(files):
    (found,) = problems(files, "+reward_model.reward_kwargs.num_procs=4")
    assert found.startswith("reward_model.reward_kwargs.num_procs not accepted by reward manager 'naive'")


def test_resume_path_needs_a_path(files):
    assert problems(files, "trainer.resume_mode=resume_path") == [
        "trainer.resume_mode=resume_path needs trainer.resume_from_path=<run folder>/global_step_<N>"
    ]


def test_val_only_needs_validation_files(files):
    assert problems(files, "trainer.val_only=True", "data.val_files=null") == ["trainer.val_only=true needs data.val_files"]


def test_all_problems_are_reported_at_once(files):
    found = problems(files, "data.train_batch_size=0", "algorithm.adv_estimator=maxrl", "actor_rollout_ref.rollout.n=1", "trainer.device=gpu")
    assert len(found) == 3
    message = str(ConfigError(found))
    assert message.startswith("3 problem(s) in the config:")


def test_the_overlong_buffer_is_refused_with_maxrl_and_accepted_with_grpo(files):
    on = ("reward_model.overlong_buffer.enable=true", "reward_model.overlong_buffer.len=4")
    found = problems(files, *on, "algorithm.adv_estimator=maxrl")
    assert any("overlong_buffer.enable=true with algorithm.adv_estimator=maxrl" in p and "[0, 1]" in p for p in found)
    check_config(compose_config([*valid_overrides(files), *on, "algorithm.adv_estimator=grpo"]))
    found = problems(files, "reward_model.overlong_buffer.enable=true", "algorithm.adv_estimator=grpo")
    assert found == ["reward_model.overlong_buffer.len=0 must be in [1, data.max_response_length=512] when "
                     "reward_model.overlong_buffer.enable=true"]


def test_dynamic_sampling_config_checks(files):
    found = problems(files, "algorithm.filter_groups.enable=true", "actor_rollout_ref.rollout.n=1",
                     "algorithm.adv_estimator=reinforce_plus_plus")
    assert any("a group of one sample never has spread" in p for p in found)
    found = problems(files, "data.gen_batch_size=8")
    assert any("data.gen_batch_size=8 differs from data.train_batch_size=4 without" in p for p in found)
    check_config(compose_config([*valid_overrides(files), "algorithm.filter_groups.enable=true",
                                 "data.gen_batch_size=8", "algorithm.filter_groups.max_num_gen_batches=3"]))
