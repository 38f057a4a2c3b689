"""LoRA on one GPU (local worker group, fp32): two updates of the adapters against the adapters-off reference,
the hf rollout fed merged weights (the weight-sync check), and the merged export equal to peft's own merge."""

import pytest
from gpu_helpers import needs_gpu
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

pytestmark = needs_gpu


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("gpu_lora"), EVEN_WORD_COUNT_SCORER, train_rows=8)
    run_dir = workspace / "run"
    run_ppo(compose_config(override_list(
        *base_overrides(workspace, run_dir, with_val=False),
        "actor_rollout_ref.model.lora_rank=4", "actor_rollout_ref.model.lora_alpha=8",
        "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.kl_loss_coef=0.1",
        "actor_rollout_ref.rollout.check_weight_sync=True",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.optim.lr=5e-2",
        "actor_rollout_ref.rollout.n=4", "trainer.device=cuda", "trainer.val_before_train=False",
        "trainer.total_training_steps=2", "trainer.save_freq=2",
    )))
    return workspace, run_dir


def test_the_adapters_train_on_the_gpu_against_the_adapters_off_reference(lora_run, record_property):
    rows = reproducible_by_step(lora_run[1])
    record_property("kl_loss_step_2", rows[2]["actor/kl_loss"])
    record_property("max_weight_sync_log_prob_diff", max(row["rollout/weight_sync_max_abs_logprob_diff"]
                                                          for row in rows.values()))
    assert rows[1]["actor/kl_loss"] == pytest.approx(0.0, abs=1e-7)  # B = 0 until the first update
    assert rows[2]["actor/kl_loss"] > 0
    assert all(row["rollout/weight_sync_max_abs_logprob_diff"] < 1e-3 for row in rows.values())


def test_the_merged_export_equals_peft_s_merge_on_the_gpu(lora_run, record_property):
    workspace, run_dir = lora_run
    export = run_dir / "global_step_2" / "actor" / "huggingface"
    merged = AutoModelForCausalLM.from_pretrained(export).to("cuda")
    initial = AutoModelForCausalLM.from_pretrained(workspace / "model").to("cuda")
    changed = sum(not p.equal(initial.state_dict()[name]) for name, p in merged.state_dict().items())
    by_peft = PeftModel.from_pretrained(initial, export / ADAPTER_DIR).merge_and_unload().state_dict()
    difference = max((p - by_peft[name]).abs().max().item() for name, p in merged.state_dict().items())
    record_property("changed_tensors", changed)
    record_property("max_abs_diff_to_peft_merge", difference)
    assert changed > 0 and difference <= 1e-6
