"""The weight-sync check needs only a backend's ``generate``: here with the hf backend (no vLLM needed), it
passes when the backend holds the actor's weights and fails loudly when a sync was skipped."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from maxrl.config import compose_config
from maxrl.data.batch import Batch
from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.rollout import build_rollout
from maxrl.workers.rollout.vllm_sync_check import (
    WEIGHT_SYNC_METRIC,
    WeightSyncError,
    check_weight_sync,
    default_tolerance,
)


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tiny_tokenizer):
    config = compose_config([f"actor_rollout_ref.model.path={tiny_model_dir}", "actor_rollout_ref.rollout.dtype=fp32"])
    backend = build_rollout("hf", config=config, tokenizer=tiny_tokenizer, device="cpu", seed=0)
    actor = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    encoded = tiny_tokenizer(["the answer", "what is 12 + 30"], padding=True, return_tensors="pt")
    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    prompts = Batch({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                     "position_ids": positions})
    return backend, actor, prompts


def log_probs_of(model):
    def actor_log_probs(batch):
        with torch.no_grad():
            return response_log_probs(model, batch, 1.0)[0]

    return actor_log_probs


def test_the_check_passes_in_sync_and_catches_a_skipped_sync(setup):
    backend, actor, prompts = setup
    metrics = check_weight_sync(backend, prompts, log_probs_of(actor), default_tolerance(True))
    assert metrics[WEIGHT_SYNC_METRIC] < 1e-5

    with torch.no_grad():
        actor.lm_head.weight.mul_(3.0)  # the actor trains; the rollout is not told
    with pytest.raises(WeightSyncError, match="weight_sync_tolerance=0.001"):
        check_weight_sync(backend, prompts, log_probs_of(actor), default_tolerance(True))

    backend.sync_weights(actor.named_parameters())
    assert check_weight_sync(backend, prompts, log_probs_of(actor), 1e-3)[WEIGHT_SYNC_METRIC] < 1e-5
