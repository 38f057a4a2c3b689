"""The Hydra config: every override from the paper's launch scripts composes, `+` keys can be added,
`--cfg job` prints the composed config, and every key in the YAML files carries a comment."""

import subprocess
import sys

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from maxrl.config import CONFIG_DIR, compose_config

A, R = "actor_rollout_ref.actor", "actor_rollout_ref.rollout"

# (override as a launch script writes it, key, value it must compose to)
ISSUE_OVERRIDES = [
    ("algorithm.adv_estimator=grpo", "algorithm.adv_estimator", "grpo"),
    ("algorithm.use_kl_in_reward=True", "algorithm.use_kl_in_reward", True),
    ("algorithm.pass_k=4", "algorithm.pass_k", 4),
    ("algorithm.truncate_order=64", "algorithm.truncate_order", 64),
    ("algorithm.kl_ctrl.kl_coef=0.0", "algorithm.kl_ctrl.kl_coef", 0.0),
    ("algorithm.norm_adv_by_std_in_grpo=False", "algorithm.norm_adv_by_std_in_grpo", False),
    ("data.train_files=/data/maze/train.parquet", "data.train_files", "/data/maze/train.parquet"),
    ("data.val_files=[/data/a.parquet,/data/b.parquet]", "data.val_files", ["/data/a.parquet", "/data/b.parquet"]),
    ("data.train_batch_size=256", "data.train_batch_size", 256),
    ("data.filter_overlong_prompts=True", "data.filter_overlong_prompts", True),
    ("data.max_prompt_length=320", "data.max_prompt_length", 320),
    ("data.max_response_length=180", "data.max_response_length", 180),
    ("data.apply_chat_template=False", "data.apply_chat_template", False),
    ("data.truncation=left", "data.truncation", "left"),
    ("actor_rollout_ref.model.path=/ckpt/maze", "actor_rollout_ref.model.path", "/ckpt/maze"),
    ("actor_rollout_ref.model.use_remove_padding=True", "actor_rollout_ref.model.use_remove_padding", True),
    ("actor_rollout_ref.model.enable_gradient_checkpointing=True", "actor_rollout_ref.model.enable_gradient_checkpointing", True),
    (f"{A}.optim.lr=1e-4", f"{A}.optim.lr", 1e-4),
    (f"{A}.use_kl_loss=True", f"{A}.use_kl_loss", True),
    (f"{A}.kl_loss_coef=0.01", f"{A}.kl_loss_coef", 0.01),
    (f"{A}.kl_loss_type=low_var_kl", f"{A}.kl_loss_type", "low_var_kl"),
    (f"{A}.entropy_coeff=0", f"{A}.entropy_coeff", 0),
    (f"{A}.ppo_mini_batch_size=256", f"{A}.ppo_mini_batch_size", 256),
    (f"{A}.ppo_micro_batch_size_per_gpu=64", f"{A}.ppo_micro_batch_size_per_gpu", 64),
    (f"{A}.dtype=fp16", f"{A}.dtype", "fp16"),
    (f"{A}.clip_ratio_low=0.2", f"{A}.clip_ratio_low", 0.2),
    (f"{A}.clip_ratio_high=0.28", f"{A}.clip_ratio_high", 0.28),
    (f"{A}.clip_ratio_c=10.0", f"{A}.clip_ratio_c", 10.0),
    (f"{A}.grad_clip=0.3", f"{A}.grad_clip", 0.3),
    (f"{A}.ppo_epochs=2", f"{A}.ppo_epochs", 2),
    (f"{A}.loss_agg_mode=seq-mean-token-sum-norm", f"{A}.loss_agg_mode", "seq-mean-token-sum-norm"),
    (f"{R}.name=vllm", f"{R}.name", "vllm"),
    (f"{R}.log_prob_micro_batch_size_per_gpu=4096", f"{R}.log_prob_micro_batch_size_per_gpu", 4096),
    (f"{R}.tensor_model_parallel_size=2", f"{R}.tensor_model_parallel_size", 2),
    (f"{R}.gpu_memory_utilization=0.7", f"{R}.gpu_memory_utilization", 0.7),
    (f"{R}.n=128", f"{R}.n", 128),
    (f"{R}.temperature=0.9", f"{R}.temperature", 0.9),
    (f"{R}.top_p=0.95", f"{R}.top_p", 0.95),
    (f"{R}.top_k=50", f"{R}.top_k", 50),
    (f"{R}.dtype=fp16", f"{R}.dtype", "fp16"),
    (f"{R}.max_model_len=2560", f"{R}.max_model_len", 2560),
    (f"{R}.max_num_batched_tokens=16384", f"{R}.max_num_batched_tokens", 16384),
    (f"{R}.val_kwargs.n=2048", f"{R}.val_kwargs.n", 2048),
    (f"{R}.val_kwargs.do_sample=True", f"{R}.val_kwargs.do_sample", True),
    (f"{R}.val_kwargs.temperature=0.6", f"{R}.val_kwargs.temperature", 0.6),
    (f"{R}.val_kwargs.top_p=0.95", f"{R}.val_kwargs.top_p", 0.95),
    (f"{R}.val_kwargs.top_k=20", f"{R}.val_kwargs.top_k", 20),
    ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=32", "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", 32),
    ("reward_model.reward_manager=prime", "reward_model.reward_manager", "prime"),
    ("trainer.project_name=maxrl_maze", "trainer.project_name", "maxrl_maze"),
    ("trainer.experiment_name=maze17_maxrl", "trainer.experiment_name", "maze17_maxrl"),
    ("trainer.logger=['console','wandb']", "trainer.logger", ["console", "wandb"]),
    ("trainer.val_before_train=False", "trainer.val_before_train", False),
    ("trainer.n_gpus_per_node=4", "trainer.n_gpus_per_node", 4),
    ("trainer.nnodes=2", "trainer.nnodes", 2),
    ("trainer.save_freq=250", "trainer.save_freq", 250),
    ("trainer.test_freq=250", "trainer.test_freq", 250),
    ("trainer.max_actor_ckpt_to_keep=3", "trainer.max_actor_ckpt_to_keep", 3),
    ("trainer.default_local_dir=/ckpt/run", "trainer.default_local_dir", "/ckpt/run"),
    ("trainer.total_epochs=10", "trainer.total_epochs", 10),
    ("trainer.total_training_steps=500", "trainer.total_training_steps", 500),
    ("trainer.balance_batch=False", "trainer.balance_batch", False),
    ("trainer.resume_mode=disable", "trainer.resume_mode", "disable"),
    ("trainer.device=cpu", "trainer.device", "cpu"),
    ("ray_init.ray_dir=/tmp/ray_maxrl", "ray_init.ray_dir", "/tmp/ray_maxrl"),
    ("+reward_model.reward_kwargs.num_processes=64", "reward_model.reward_kwargs.num_processes", 64),
    ("+reward_model.reward_kwargs.chunksize=64", "reward_model.reward_kwargs.chunksize", 64),
    (f"+{R}.micro_batch_size=4096", f"{R}.micro_batch_size", 4096),
]


def _plain(value):
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def test_every_issue_override_composes_to_its_value():
    config = compose_config([override for override, _, _ in ISSUE_OVERRIDES])
    for override, key, expected in ISSUE_OVERRIDES:
        assert _plain(OmegaConf.select(config, key)) == expected, override


def test_cfg_job_prints_the_composed_config_without_running(tmp_path):
    overrides = [override for override, _, _ in ISSUE_OVERRIDES]
    result = subprocess.run(
        [sys.executable, "-m", "maxrl.trainer.main_ppo", "--cfg", "job", *overrides],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = OmegaConf.create(yaml.safe_load(result.stdout))
    for override, key, expected in ISSUE_OVERRIDES:
        assert _plain(OmegaConf.select(printed, key)) == expected, override
    assert list(tmp_path.iterdir()) == []  # nothing was started or written


def test_plus_keys_are_absent_or_empty_by_default():
    config = compose_config()
    assert OmegaConf.select(config, f"{R}.micro_batch_size", default="absent") == "absent"
    assert OmegaConf.to_container(config.reward_model.reward_kwargs) == {}


def test_nested_reward_kwargs_can_be_added():
    config = compose_config(["+reward_model.reward_kwargs.extra.depth=2"])
    assert config.reward_model.reward_kwargs.extra.depth == 2


def test_a_misspelt_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="train_batchsize"):
        compose_config(["data.train_batchsize=8"])


def test_interpolated_lengths_follow_the_data_section():
    config = compose_config(["data.max_prompt_length=320", "data.max_response_length=180"])
    rollout = config.actor_rollout_ref.rollout
    assert (rollout.prompt_length, rollout.response_length) == (320, 180)


def test_every_key_in_every_yaml_file_has_a_comment():
    uncommented = []
    for path in sorted(CONFIG_DIR.rglob("*.yaml")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped:
                continue
            is_section = stripped.endswith(":")
            if not is_section and "#" not in stripped:
                uncommented.append(f"{path.relative_to(CONFIG_DIR)}:{number}: {stripped}")
    assert uncommented == []
