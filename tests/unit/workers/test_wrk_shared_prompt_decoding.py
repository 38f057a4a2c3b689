"""The shared-prompt decoding attention against sdpa over the repeated, concatenated cache."""

import pytest
import torch
from torch import nn
from transformers import DynamicCache

from maxrl.workers.rollout.shared_prompt_decoding import (
    SHARED_CACHE_KEYWORD,
    SharedPromptLayer,
    shared_prompt_attention,
    shared_prompt_cache,
)

PROMPTS, SAMPLES, HEADS, KV_HEADS, HEAD_DIM, PROMPT_LENGTH = 3, 4, 4, 2, 8, 6


class _Layer(nn.Module):
    layer_idx = 0
    is_causal = True


def _prefilled() -> DynamicCache:
    generator = torch.Generator().manual_seed(0)
    cache = DynamicCache()
    cache.update(*(torch.randn(PROMPTS, KV_HEADS, PROMPT_LENGTH, HEAD_DIM, generator=generator) for _ in range(2)), 0)
    return cache


@pytest.mark.parametrize("own_tokens", [1, 5])
def test_attention_equals_sdpa_over_the_repeated_cache_with_left_padding(own_tokens):
    prompt_mask = torch.ones(PROMPTS, PROMPT_LENGTH, dtype=torch.bool)
    prompt_mask[1, :2] = False  # a left-padded prompt
    prefilled = _prefilled()
    cache = shared_prompt_cache(prefilled, prompt_mask, SAMPLES, max_new_tokens=8)
    batch = PROMPTS * SAMPLES
    generator = torch.Generator().manual_seed(1)
    for _ in range(own_tokens):
        keys, values = cache.update(*(torch.randn(batch, KV_HEADS, 1, HEAD_DIM, generator=generator)
                                      for _ in range(2)), 0)
    query = torch.randn(batch, HEADS, 1, HEAD_DIM, generator=generator)

    output, _ = shared_prompt_attention(_Layer(), query, keys, values, None, scaling=0.3,
                                        **{SHARED_CACHE_KEYWORD: cache})

    layer = prefilled.layers[0]
    all_keys = torch.cat([layer.keys.repeat_interleave(SAMPLES, 0), keys], dim=2)
    all_values = torch.cat([layer.values.repeat_interleave(SAMPLES, 0), values], dim=2)
    mask = torch.cat([prompt_mask.repeat_interleave(SAMPLES, 0), torch.ones(batch, own_tokens, dtype=torch.bool)], 1)
    expected = nn.functional.scaled_dot_product_attention(query, all_keys, all_values, attn_mask=mask[:, None, None],
                                                          scale=0.3, enable_gqa=True)
    torch.testing.assert_close(output, expected.transpose(1, 2), atol=1e-6, rtol=0)
    assert cache.get_seq_length() == PROMPT_LENGTH + own_tokens


def test_the_cache_refuses_more_tokens_than_it_allocated():
    prompt_mask = torch.ones(PROMPTS, PROMPT_LENGTH, dtype=torch.bool)
    cache = shared_prompt_cache(_prefilled(), prompt_mask, SAMPLES, max_new_tokens=1)
    step = [torch.zeros(PROMPTS * SAMPLES, KV_HEADS, 1, HEAD_DIM)] * 2
    cache.update(*step, 0)
    with pytest.raises(RuntimeError, match="exceed the 1 allocated"):
        cache.update(*step, 0)


def test_layers_other_than_full_attention_keep_the_repeated_cache():
    from transformers.cache_utils import DynamicSlidingWindowLayer

    sliding = DynamicCache()
    sliding.layers = [DynamicSlidingWindowLayer(sliding_window=4)]
    sliding.update(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), 0)
    assert shared_prompt_cache(sliding, torch.ones(1, 2, dtype=torch.bool), 2, 4) is None
    assert isinstance(shared_prompt_cache(_prefilled(), torch.ones(PROMPTS, PROMPT_LENGTH), 2, 4).layers[0],
                      SharedPromptLayer)


def test_calls_without_a_shared_cache_are_sdpa():
    generator = torch.Generator().manual_seed(2)
    query, key, value = (torch.randn(2, HEADS, 5, HEAD_DIM, generator=generator) for _ in range(3))
    output, _ = shared_prompt_attention(_Layer(), query, key, value, None, scaling=0.5)
    expected = nn.functional.scaled_dot_product_attention(query, key, value, is_causal=True, scale=0.5)
    torch.testing.assert_close(output, expected.transpose(1, 2))


def test_sdpa_keywords_the_shared_attention_does_not_reproduce_go_to_sdpa_over_the_repeated_cache():
    """A position bias (added to the scores) makes the step sdpa's over the repeated cache (softcapping takes
    the same branch; what sdpa does with it depends on the transformers release)."""
    prompt_mask = torch.ones(PROMPTS, PROMPT_LENGTH, dtype=torch.bool)
    prompt_mask[0, :3] = False
    prefilled = _prefilled()
    cache = shared_prompt_cache(prefilled, prompt_mask, SAMPLES, max_new_tokens=2)
    batch = PROMPTS * SAMPLES
    generator = torch.Generator().manual_seed(3)
    keys, values = cache.update(*(torch.randn(batch, KV_HEADS, 1, HEAD_DIM, generator=generator) for _ in range(2)), 0)
    query = torch.randn(batch, HEADS, 1, HEAD_DIM, generator=generator)
    bias = torch.randn(batch, HEADS, 1, PROMPT_LENGTH + 1, generator=generator)
    module = _Layer()
    module.num_key_value_groups = HEADS // KV_HEADS

    output, _ = shared_prompt_attention(module, query, keys, values, None, position_bias=bias,
                                        **{SHARED_CACHE_KEYWORD: cache})

    layer = prefilled.layers[0]
    all_keys = torch.cat([layer.keys.repeat_interleave(SAMPLES, 0), keys], dim=2).repeat_interleave(2, 1)
    all_values = torch.cat([layer.values.repeat_interleave(SAMPLES, 0), values], dim=2).repeat_interleave(2, 1)
    mask = torch.cat([prompt_mask.repeat_interleave(SAMPLES, 0), torch.ones(batch, 1, dtype=torch.bool)], 1)
    scores = bias.masked_fill(~mask[:, None, None], float("-inf"))
    expected = nn.functional.scaled_dot_product_attention(query, all_keys, all_values, attn_mask=scores)
    torch.testing.assert_close(output, expected.transpose(1, 2), atol=1e-5, rtol=0)
