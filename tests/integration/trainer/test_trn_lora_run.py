"""A LoRA run through the whole stack on CPU: Ray, 2 FSDP2 workers, HF rollout, a KL loss against the
adapters-off model, checkpoints of the adapters only, an exact resume and a loadable merged export."""

import pytest
from maze_runs import (
    EVEN_WORD_COUNT_SCORER,
    base_overrides,
    make_workspace,
    override_list,
    reproducible_by_step,
)
from peft import PeftModel
from transformers import AutoModelForCausalLM

from maxrl.config import compose_config
from maxrl.trainer.main_ppo import run_ppo
from maxrl.workers.lora import ADAPTER_DIR
from maxrl.workers.safe_dcp import read_metadata


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("trainer_lora"), EVEN_WORD_COUNT_SCORER, train_rows=8)


def overrides(workspace, run_dir, *extra):
    return override_list(
        *base_overrides(workspace, run_dir, with_val=False),
        "actor_rollout_ref.model.lora_rank=4", "actor_rollout_ref.model.lora_alpha=8",
        "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.kl_loss_coef=0.1",
        "actor_rollout_ref.rollout.check_weight_sync=True",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.optim.lr=5e-2",
        "actor_rollout_ref.rollout.n=4",
        "trainer.n_gpus_per_node=2", "trainer.val_before_train=False", "trainer.total_training_steps=3",
        "trainer.save_freq=1",
        *extra,
    )


@pytest.fixture(scope="module")
def run_a(workspace, ray_cluster):
    run_dir = workspace / "run_a"
    run_ppo(compose_config(overrides(workspace, run_dir)))
    return run_dir


def test_a_lora_run_trains_against_the_adapters_off_reference(run_a):
    rows = reproducible_by_step(run_a)
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
    resumed, original = reproducible_by_step(run_b), reproducible_by_step(run_a)
    assert sorted(resumed) == [3]
    assert resumed[3] == original[3]
