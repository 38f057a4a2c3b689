"""The vllm backend on a GPU, in this process: sleep mode hands memory back, log-probs equal a
teacher-forced forward, weights streamed in place are the ones vLLM samples from, and the weight-sync
check catches a skipped sync. (Run alone: `tests/gpu/device_check.sh` gives every file its own process.)
"""

import pytest
import torch
from gpu_helpers import RESPONSE_LENGTH, gpu_config, needs_gpu_and_vllm, prompts, tiny_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.rollout import SamplingParams, build_rollout
from maxrl.workers.rollout.vllm_sync_check import WEIGHT_SYNC_METRIC, WeightSyncError, check_weight_sync

pytestmark = needs_gpu_and_vllm

TOLERANCE = {"fp32": 1e-3, "bf16": 1.0}  # nats; see maxrl/workers/rollout/vllm_sync_check.py
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@pytest.fixture(scope="module", params=["fp32", "bf16"])
def setup(request, tmp_path_factory):
    """(backend, policy, prompts, dtype name): an engine started on random weights, then synced."""
    dtype = request.param
    model_dir = tiny_model(tmp_path_factory.mktemp(f"tiny_{dtype}"))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    policy = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=DTYPES[dtype]).cuda().eval()
    config = gpu_config(model_dir, dtype, "actor_rollout_ref.rollout.load_format=dummy",
                        "actor_rollout_ref.rollout.enable_prefix_caching=true",
                        "actor_rollout_ref.rollout.free_cache_engine=true")
    backend = build_rollout("vllm", config=config, tokenizer=tokenizer, device="cuda", seed=0)
    backend.wake()
    backend.sync_weights(policy.named_parameters())
    yield backend, policy, prompts(tokenizer), dtype
    backend.sleep()


def teacher_forced(model, batch):
    with torch.no_grad():
        return response_log_probs(model, batch.to("cuda"), 1.0)[0].float().cpu()


def max_gap(out, model):
    mask = out["response_mask"].bool().cpu()
    return (out["rollout_log_probs"].cpu() - teacher_forced(model, out))[mask].abs().max().item()


def test_samples_and_log_probs_match_the_policy(setup):
    backend, policy, batch, dtype = setup
    out = backend.generate(batch, SamplingParams(n=4, max_tokens=RESPONSE_LENGTH, seed=1))
    assert len(out) == 4 * len(batch) and out["responses"].shape[1] == RESPONSE_LENGTH
    assert max_gap(out, policy) < TOLERANCE[dtype]


def test_sleep_returns_device_memory_and_wake_restores_the_weights(setup):
    backend, policy, batch, dtype = setup
    backend.generate(batch, SamplingParams(n=1, max_tokens=RESPONSE_LENGTH, seed=2))
    free_awake = torch.cuda.mem_get_info()[0]
    backend.sleep()
    free_asleep = torch.cuda.mem_get_info()[0]
    assert free_asleep - free_awake > 2**30, "level-1 sleep should free at least the KV cache"
    backend.wake()
    out = backend.generate(batch, SamplingParams(n=2, max_tokens=RESPONSE_LENGTH, seed=3))
    assert max_gap(out, policy) < TOLERANCE[dtype]  # weights came back from host memory intact


def test_streamed_weights_are_followed_and_a_skipped_sync_is_caught(setup):
    backend, policy, batch, dtype = setup
    updated = AutoModelForCausalLM.from_config(policy.config, dtype=DTYPES[dtype]).cuda().eval()
    updated.load_state_dict(policy.state_dict())
    with torch.no_grad():
        updated.lm_head.weight.mul_(20.0)  # far beyond bf16 noise; tied, so the embedding moves too

    def actor_log_probs(model):
        return lambda samples: teacher_forced(model, samples)

    with pytest.raises(WeightSyncError):
        check_weight_sync(backend, batch, actor_log_probs(updated), TOLERANCE[dtype])
    backend.sync_weights(updated.named_parameters())
    try:
        out = backend.generate(batch, SamplingParams(n=2, max_tokens=RESPONSE_LENGTH, seed=4))
        assert max_gap(out, updated) < TOLERANCE[dtype] < max_gap(out, policy)
        metrics = check_weight_sync(backend, batch, actor_log_probs(updated), TOLERANCE[dtype])
        assert metrics[WEIGHT_SYNC_METRIC] < TOLERANCE[dtype]
    finally:
        backend.sync_weights(policy.named_parameters())
