"""A LoRA run through the whole stack on CPU: Ray, 2 FSDP2 workers, HF rollout, a KL loss against the
adapters-off model, checkpoints of the adapters only, an exact resume and a loadable merged export."""

import pandas as pd
import pytest
from peft import PeftModel
from transformers import AutoModelForCausalLM

from maxrl.config import compose_config
from maxrl.tasks.maze import build_tokenizer
from maxrl.tasks.maze.make_data import main as make_maze_data
from maxrl.trainer.main_ppo import run_ppo
from maxrl.trainer.tracking import read_metrics
from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.lora import ADAPTER_DIR
from maxrl.workers.safe_dcp import read_metadata

SCORER = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return float(len(solution_str.split()) % 2 == 0)  # about half the samples of an untrained model
'''

NOT_REPRODUCIBLE = ("timing_s/", "timing_per_token_ms/", "perf/throughput", "perf/time_per_step", "perf/gen_tokens_per_s")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer_lora")
    make_maze_data(["--output-dir", str(root / "data"), "--size", "7", "--num-mazes", "40", "--test-size", "4",
                    "--formats", "parquet", "--no-progress"])
    train = root / "data" / "train.parquet"
    pd.read_parquet(train).head(8).to_parquet(train)
    tokenizer = build_tokenizer(save_dir=root / "model")
    build_tiny_causal_lm(len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         save_dir=root / "model")
    (root / "scorer.py").write_text(SCORER)
    return root


def overrides(workspace, run_dir, *extra):
    return [
        f"data.train_files={workspace / 'data' / 'train.parquet'}", "data.val_files=null",
        "data.train_batch_size=4", "data.max_prompt_length=64", "data.max_response_length=12",
        "data.apply_chat_template=False",
        f"actor_rollout_ref.model.path={workspace / 'model'}",
        "actor_rollout_ref.model.lora_rank=4", "actor_rollout_ref.model.lora_alpha=8",
        "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.kl_loss_coef=0.1",
        "actor_rollout_ref.actor.dtype=fp32", "actor_rollout_ref.rollout.dtype=fp32",
        "actor_rollout_ref.rollout.check_weight_sync=True",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.optim.lr=5e-2",
        "actor_rollout_ref.rollout.n=4",
        f"custom_reward_function.path={workspace / 'scorer.py'}",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.n_gpus_per_node=2", "trainer.device=cpu", "trainer.logger=[file]",
        "trainer.val_before_train=False", "trainer.total_training_steps=3", "trainer.save_freq=1",
        f"trainer.default_local_dir={run_dir}",
        *extra,
    ]


@pytest.fixture(scope="module")
def run_a(workspace, ray_cluster):
    run_dir = workspace / "run_a"
    run_ppo(compose_config(overrides(workspace, run_dir)))
    return run_dir


def metrics_by_step(run_dir):
    return {row["step"]: {k: v for k, v in row.items() if not k.startswith(NOT_REPRODUCIBLE)}
            for row in read_metrics(run_dir)}


def test_a_lora_run_trains_against_the_adapters_off_reference(run_a):
    rows = metrics_by_step(run_a)
    assert sorted(rows) == [1, 2, 3]
    assert rows[1]["actor/kl_loss"] == pytest.approx(0.0, abs=1e-7)  # B = 0 until the step's one update: actor = reference
    assert rows[3]["actor/kl_loss"] > 0  # the adapters moved the policy away from the base model
    assert all(row["rollout/weight_sync_max_abs_logprob_diff"] < 1e-3 for row in rows.values())


def test_checkpoints_hold_adapters_and_the_export_loads_merged(run_a, workspace):
    actor = run_a / "global_step_3" / "actor"
    model_keys = [key for key in read_metadata(actor).state_dict_metadata if key.startswith("model.")]
    assert model_keys and all(".lora_A." in key or ".lora_B." in key for key in model_keys)
    merged = AutoModelForCausalLM.from_pretrained(actor / "huggingface")
    initial = AutoModelForCausalLM.from_pretrained(workspace / "model")
    assert set(merged.state_dict()) == set(initial.state_dict())
    assert any(not p.equal(initial.state_dict()[name]) for name, p in merged.state_dict().items())
    adapted = PeftModel.from_pretrained(initial, actor / "huggingface" / ADAPTER_DIR).merge_and_unload()
    for name, p in merged.state_dict().items():
        assert p.allclose(adapted.state_dict()[name], atol=1e-6), name


def test_resume_from_adapters_is_exact(run_a, workspace):
    run_b = workspace / "run_b"
    run_ppo(compose_config(overrides(workspace, run_b, "trainer.resume_mode=resume_path",
                                     f"trainer.resume_from_path={run_a / 'global_step_2'}")))
    resumed, original = metrics_by_step(run_b), metrics_by_step(run_a)
    assert sorted(resumed) == [3]
    assert resumed[3] == original[3]
