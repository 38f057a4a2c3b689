"""Inputs that used to be accepted, or refused only after Ray started, now refused by the config check:
maxrl with an in-reward KL penalty, more threads per worker than the machine has cores, LoRA target names
that match no layer of the model, and token budgets below the longest sequence."""

import pandas as pd
import pytest

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError, check_config
from maxrl.config.machine_checks import machine_cores


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "train.parquet"
    pd.DataFrame({
        "data_source": ["maze_5"] * 2,
        "prompt": [[{"role": "user", "content": "x"}]] * 2,
        "reward_model": [{"style": "rule", "ground_truth": "1"}] * 2,
    }).to_parquet(path)
    return path


@pytest.fixture(autouse=True)
def local_ray(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the run would start its own cluster on this machine


def problems(model_dir, train_file, *extra):
    overrides = [
        f"actor_rollout_ref.model.path={model_dir}", f"data.train_files={train_file}", "data.val_files=null",
        "data.train_batch_size=2", "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.rollout.n=2",
        "trainer.device=cpu", "data.max_prompt_length=64", "data.max_response_length=64", *extra,
    ]
    try:
        check_config(compose_config(overrides))
    except ConfigError as error:
        return error.problems
    return []


def test_the_base_config_is_valid(tiny_model_dir, train_file):
    assert problems(tiny_model_dir, train_file) == []


def test_maxrl_with_the_kl_penalty_in_the_reward_is_refused_with_the_reason(tiny_model_dir, train_file):
    (problem,) = problems(tiny_model_dir, train_file, "algorithm.use_kl_in_reward=true")
    assert problem.startswith("algorithm.use_kl_in_reward=true with algorithm.adv_estimator=maxrl: the in-reward "
                              "KL penalty makes rewards negative, and maxrl divides by each group's mean reward")
    assert "actor_rollout_ref.actor.use_kl_loss=true" in problem
    assert problems(tiny_model_dir, train_file, "algorithm.use_kl_in_reward=true", "algorithm.adv_estimator=grpo") == []


def test_more_threads_per_worker_than_cores_are_refused_for_a_local_cluster(tiny_model_dir, train_file):
    cores = machine_cores()
    (problem,) = problems(tiny_model_dir, train_file, f"trainer.cpu_threads_per_worker={cores + 1}")
    assert problem.startswith(f"trainer.cpu_threads_per_worker={cores + 1} is more than the {cores} cores of this "
                              f"machine, which the local Ray cluster runs on; set it to at most {cores}")
    assert problems(tiny_model_dir, train_file, f"trainer.cpu_threads_per_worker={cores}") == []
    joined = problems(tiny_model_dir, train_file, "trainer.cpu_threads_per_worker=1000", "ray_init.address=auto")
    assert joined == []  # another cluster's nodes are not this machine


LORA = ["actor_rollout_ref.model.lora_rank=8"]


@pytest.mark.parametrize("targets, unknown", [
    ("[q_proj,k_proj,v_proj,no_such_proj]", "['no_such_proj']"),
    ("[attention]", "['attention']"),
])
def test_lora_target_names_that_match_no_layer_are_refused_listing_the_layers(tiny_model_dir, train_file, targets,
                                                                              unknown):
    (problem,) = problems(tiny_model_dir, train_file, *LORA, f"actor_rollout_ref.model.target_modules={targets}")
    assert problem == (
        f"actor_rollout_ref.model.target_modules names {unknown}, which match no linear layer of the model at "
        f"{tiny_model_dir}; its linear layers are ['down_proj', 'gate_proj', 'k_proj', 'lm_head', 'o_proj', "
        "'q_proj', 'up_proj', 'v_proj'] (or use target_modules=all-linear)"
    )


@pytest.mark.parametrize("targets", ["[q_proj,v_proj]", "[mlp.down_proj]", "all-linear"])
def test_lora_targets_that_exist_are_accepted(tiny_model_dir, train_file, targets):
    assert problems(tiny_model_dir, train_file, *LORA, f"actor_rollout_ref.model.target_modules={targets}") == []


def test_a_token_budget_below_the_longest_sequence_is_refused(tiny_model_dir, train_file):
    found = problems(tiny_model_dir, train_file, "actor_rollout_ref.actor.use_dynamic_bsz=true",
                     "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=100")
    # the log-prob passes' budgets follow the actor's by default: all three are named
    assert [problem.partition("=")[0] for problem in found] == [
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu", "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu",
        "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu"]
    assert found[0] == (
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=100 is below the longest sequence, 128 tokens "
        "(data.max_prompt_length + actor_rollout_ref.rollout.response_length): every row longer than the budget "
        "would be a micro-batch of its own; set actor_rollout_ref.actor.ppo_max_token_len_per_gpu >= 128"
    )
    sample_counts = ["actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
                     "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2",
                     "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=2",
                     "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=100"]
    assert problems(tiny_model_dir, train_file, *sample_counts) == []  # micro-batches by count: no budget used


def test_the_critic_token_budget_is_checked_when_there_is_a_critic(tiny_model_dir, train_file):
    critic = ["algorithm.adv_estimator=gae", f"critic.model.path={tiny_model_dir}", "critic.ppo_max_token_len_per_gpu=64"]
    found = problems(tiny_model_dir, train_file, *critic)
    assert [problem.partition("=")[0] for problem in found] == [
        "critic.ppo_max_token_len_per_gpu", "critic.forward_max_token_len_per_gpu"]
    assert problems(tiny_model_dir, train_file, "critic.ppo_max_token_len_per_gpu=64") == []  # maxrl: no critic
