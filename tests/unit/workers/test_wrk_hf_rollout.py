"""The hf rollout backend: valid masks, sampler log-probs equal to a teacher-forced forward, weight sync."""

import pytest
import torch
from omegaconf import OmegaConf

from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.hf_model import cache_keyword
from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.rollout import SamplingParams, build_rollout
from maxrl.workers.rollout.sampling import sampling_distribution

RESPONSE_LENGTH = 12


@pytest.fixture(scope="module")
def backend(rollout_config, tiny_tokenizer):
    return build_rollout("hf", config=rollout_config, tokenizer=tiny_tokenizer, device="cpu", seed=0)


def sampling(stop_ids, **kwargs):
    return SamplingParams(max_tokens=RESPONSE_LENGTH, stop_token_ids=tuple(sorted(stop_ids)), **kwargs)


def test_samples_are_grouped_by_prompt_and_masks_end_at_the_first_stop(backend, prompt_batch, stop_heavy_ids,
                                                                       tiny_tokenizer):
    out = backend.generate(prompt_batch, sampling(stop_heavy_ids, n=4, seed=3))
    assert len(out) == 12
    assert torch.equal(out["prompts"], prompt_batch["input_ids"].repeat_interleave(4, dim=0))
    mask, responses = out["response_mask"], out["responses"]
    lengths = mask.sum(-1)
    assert len(set(lengths.tolist())) > 1, "random weights with many stop ids should give varied lengths"
    is_stop = torch.isin(responses, torch.tensor(stop_heavy_ids))
    for row in range(len(out)):
        length = int(lengths[row])
        assert mask[row, :length].all() and not mask[row, length:].any()
        assert not is_stop[row, : length - 1].any()
        if length < RESPONSE_LENGTH:
            assert is_stop[row, length - 1]
        assert (responses[row, length:] == tiny_tokenizer.pad_token_id).all()
    assert (out["rollout_log_probs"][mask == 0] == 0).all()
    assert (out["rollout_log_probs"][mask == 1] < 0).all()


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_sampler_log_probs_equal_a_teacher_forced_forward(backend, prompt_batch, stop_heavy_ids, temperature):
    out = backend.generate(prompt_batch, sampling(stop_heavy_ids, n=2, temperature=temperature, seed=4))
    with torch.no_grad():
        recomputed, _ = response_log_probs(backend.model, out, temperature)
    mask = out["response_mask"].bool()
    torch.testing.assert_close(out["rollout_log_probs"][mask], recomputed[mask], atol=1e-5, rtol=0)


@pytest.mark.parametrize("rollout", [
    {"do_sample": True, "temperature": 0.7, "top_k": 3, "top_p": 1.0},
    {"do_sample": True, "temperature": 1.0, "top_k": -1, "top_p": 0.6},
    {"do_sample": True, "temperature": 0.8, "top_k": 5, "top_p": 0.7},
    {"do_sample": False, "temperature": 0.7, "top_k": 3, "top_p": 0.6},  # greedy: temperature 1, untruncated
], ids=["top_k", "top_p", "both", "greedy"])
def test_truncated_sampling_log_probs_equal_the_trainers(backend, prompt_batch, stop_heavy_ids, rollout):
    """With top-k / top-p the rollout records the log-prob of the truncated distribution it drew from (vLLM's
    processed_logprobs), and the trainer's log-probs (`sampling_distribution` of the same rollout keys) are
    taken under that distribution: the two agree, so rollout correction compares like with like."""
    keys = OmegaConf.create(rollout)
    draw = sampling(stop_heavy_ids, n=3, seed=6, **{k: v for k, v in rollout.items()})
    out = backend.generate(prompt_batch, draw)
    with torch.no_grad():
        trainer, _ = response_log_probs(backend.model, out, sampling_distribution(keys))
    mask = out["response_mask"].bool()
    torch.testing.assert_close(out["rollout_log_probs"][mask], trainer[mask], atol=1e-5, rtol=0)
    if rollout["do_sample"]:  # the truncation matters: the untruncated log-probs are lower
        with torch.no_grad():
            untruncated, _ = response_log_probs(backend.model, out, rollout["temperature"])
        assert (trainer[mask] - untruncated[mask]).max() > 0.01


def test_a_seed_repeats_the_draw_and_chunking_keeps_greedy_output(rollout_config, backend, prompt_batch,
                                                                  tiny_tokenizer):
    first = backend.generate(prompt_batch, sampling([], n=2, seed=9))
    second = backend.generate(prompt_batch, sampling([], n=2, seed=9))
    assert torch.equal(first["responses"], second["responses"])
    chunked_config = OmegaConf.merge(rollout_config, {"actor_rollout_ref": {"rollout": {"micro_batch_size": 2}}})
    chunked = build_rollout("hf", config=chunked_config, tokenizer=tiny_tokenizer, device="cpu")
    greedy = sampling([], n=1, do_sample=False, temperature=0.0)
    whole, parts = backend.generate(prompt_batch, greedy), chunked.generate(prompt_batch, greedy)
    assert torch.equal(whole["responses"], parts["responses"])
    torch.testing.assert_close(whole["rollout_log_probs"], parts["rollout_log_probs"], atol=1e-6, rtol=0)


def test_sync_weights_makes_the_backend_sample_from_the_new_policy(rollout_config, prompt_batch, tiny_tokenizer):
    backend = build_rollout("hf", config=rollout_config, tokenizer=tiny_tokenizer, device="cpu")
    other = build_tiny_causal_lm(vocab_size=len(tiny_tokenizer), pad_token_id=tiny_tokenizer.pad_token_id,
                                 eos_token_id=tiny_tokenizer.eos_token_id, seed=123).eval()
    backend.sync_weights(other.named_parameters())
    out = backend.generate(prompt_batch, sampling([], n=1, seed=0))
    with torch.no_grad():
        expected, _ = response_log_probs(other, out, 1.0)
    torch.testing.assert_close(out["rollout_log_probs"], expected, atol=1e-5, rtol=0)
    with pytest.raises(KeyError, match="no parameter 'not.a.weight'"):
        backend.sync_weights([("not.a.weight", torch.zeros(1))])


class _OldNames(torch.nn.Module):
    def forward(self, input_ids, past_key_values=None, use_cache=None, **kwargs):
        return input_ids


class _NewNames(torch.nn.Module):
    def forward(self, input_ids, cache=None, use_cache=None, **kwargs):
        return input_ids


class _NoCache(torch.nn.Module):
    def forward(self, input_ids, **kwargs):
        return input_ids


def test_the_kv_cache_goes_under_the_name_the_model_takes():
    """Transformers renamed `past_key_values` to `cache`; a wrong name would be swallowed by **kwargs."""
    assert cache_keyword(_OldNames()) == "past_key_values"
    assert cache_keyword(_NewNames()) == "cache"
    with pytest.raises(TypeError, match="need a model with a KV cache"):
        cache_keyword(_NoCache())


def test_decoding_writes_the_cache_in_place_and_samples_the_same(backend, prompt_batch, stop_heavy_ids, monkeypatch):
    """Without the shared-prompt attention the repeated cache grows in preallocated buffers (no copy per
    token), with the draw of a concatenating cache."""
    from maxrl.workers.rollout import hf_rollout

    monkeypatch.setattr(backend, "shared_attention", False)
    draw = sampling(stop_heavy_ids, n=3, seed=11)
    grown = []
    original = hf_rollout._grow_in_place
    monkeypatch.setattr(hf_rollout, "_grow_in_place",
                        lambda cache, extra: (original(cache, extra), grown.extend(cache.layers)))
    in_place = backend.generate(prompt_batch, draw)
    assert grown and all(isinstance(layer.update, hf_rollout._GrowInPlace) for layer in grown)
    monkeypatch.setattr(hf_rollout, "_grow_in_place", lambda cache, extra: None)
    concatenated = backend.generate(prompt_batch, draw)
    assert torch.equal(in_place["responses"], concatenated["responses"])
    torch.testing.assert_close(in_place["rollout_log_probs"], concatenated["rollout_log_probs"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("n", [1, 4])
def test_decoding_with_each_prompt_stored_once_samples_as_the_repeated_cache(backend, prompt_batch, stop_heavy_ids,
                                                                           monkeypatch, n):
    """Left-padded prompts of different lengths: the shared-prompt cache gives the draw of the repeated one."""
    from maxrl.workers.rollout import shared_prompt_decoding

    built = []
    original = shared_prompt_decoding.shared_prompt_cache
    monkeypatch.setattr("maxrl.workers.rollout.hf_rollout.shared_prompt_cache",
                        lambda *args: built.append(original(*args)) or built[-1])
    draw = sampling(stop_heavy_ids, n=n, seed=5)
    shared = backend.generate(prompt_batch, draw)
    assert backend.shared_attention and built and all(cache is not None for cache in built)
    monkeypatch.setattr(backend, "shared_attention", False)
    repeated = backend.generate(prompt_batch, draw)
    assert torch.equal(shared["responses"], repeated["responses"])
    assert torch.equal(shared["response_mask"], repeated["response_mask"])
    torch.testing.assert_close(shared["rollout_log_probs"], repeated["rollout_log_probs"], atol=1e-5, rtol=0)
