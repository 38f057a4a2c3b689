"""The baselines do the framework's work: same log-probs, entropy and PPO loss as maxrl's own functions,
and generated tokens counted up to the first stop token."""

import pytest
import torch
from omegaconf import OmegaConf

from benchmarks.baselines import BarePolicyUpdate, RawGenerate, bare_log_probs, generated_tokens
from maxrl.algorithms import compute_policy_loss
from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.rollout import SamplingParams

VOCAB, PROMPT, RESPONSE, ROWS = 48, 5, 4, 3
TEMPERATURE = 0.7


@pytest.fixture(scope="module")
def model():
    return build_tiny_causal_lm(VOCAB, hidden_size=32, num_layers=1, intermediate_size=64).eval()


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randint(1, VOCAB, (ROWS, PROMPT), generator=generator)
    prompt_mask = torch.ones(ROWS, PROMPT, dtype=torch.long)
    prompt_mask[0, :2] = 0  # left padding
    responses = torch.randint(1, VOCAB, (ROWS, RESPONSE), generator=generator)
    response_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]])
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
    return Batch({
        "input_ids": torch.cat([prompts, responses], dim=1),
        "attention_mask": attention_mask,
        "position_ids": (attention_mask.cumsum(-1) - 1).clamp(min=0),
        "responses": responses,
        "response_mask": response_mask,
        "advantages": torch.tensor([[1.0], [-0.5], [2.0]]) * response_mask,
    })


def test_bare_log_probs_match_the_workers_function(model, batch):
    log_probs, entropy = bare_log_probs(model, batch, TEMPERATURE, with_entropy=True)
    with torch.no_grad():
        expected_log_probs, expected_entropy = response_log_probs(model, batch, TEMPERATURE, with_entropy=True)
    torch.testing.assert_close(log_probs, expected_log_probs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(entropy, expected_entropy, rtol=1e-5, atol=1e-6)
    assert bare_log_probs(model, batch, TEMPERATURE, with_entropy=False)[1] is None


def test_bare_update_loss_is_the_vanilla_ppo_loss(model, batch):
    config = OmegaConf.create({
        "actor_rollout_ref": {
            "actor": {"optim": {"lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.01}, "clip_ratio_low": 0.2,
                      "clip_ratio_high": 0.28, "grad_clip": 1.0, "ppo_mini_batch_size": 3,
                      "ppo_micro_batch_size_per_gpu": None},
            "rollout": {"temperature": TEMPERATURE, "n": 1},
        }
    })
    update = BarePolicyUpdate(model, config)
    with torch.no_grad():
        current, _ = response_log_probs(model, batch, TEMPERATURE)
    shift = torch.tensor([[0.3, -0.3, 0.1, 0.0], [0.0, 0.25, 0.0, 0.0], [-0.4, 0.0, 0.05, 0.0]])
    old = batch.union(Batch({"old_log_probs": current + shift}))  # ratios clipped on both sides
    normalizer = batch["response_mask"].sum()
    with torch.no_grad():
        loss = update._loss(old, normalizer)
        expected, _ = compute_policy_loss("vanilla", old["old_log_probs"], current, batch["advantages"],
                                          batch["response_mask"], "token-mean", normalizer, clip_ratio_low=0.2,
                                          clip_ratio_high=0.28, clip_ratio_c=3.0)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_bare_update_steps_and_reports_all_tokens(batch):
    model = build_tiny_causal_lm(VOCAB, hidden_size=32, num_layers=1, intermediate_size=64)
    config = OmegaConf.create({
        "actor_rollout_ref": {
            "actor": {"optim": {"lr": 1e-2, "betas": [0.9, 0.999], "weight_decay": 0.0}, "clip_ratio_low": 0.2,
                      "clip_ratio_high": 0.2, "grad_clip": 1.0, "ppo_mini_batch_size": 2,
                      "ppo_micro_batch_size_per_gpu": 1},
            "rollout": {"temperature": 1.0, "n": 1},
        }
    })
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        old, _ = response_log_probs(model, batch, 1.0)
    tokens = BarePolicyUpdate(model, config)(batch.union(Batch({"old_log_probs": old})))
    assert tokens == int(batch["attention_mask"].sum())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_generated_tokens_count_through_the_first_stop():
    new_tokens = torch.tensor([[5, 2, 9, 9], [5, 5, 5, 5], [7, 5, 7, 2]])
    assert generated_tokens(new_tokens, (7,)) == 4 + 4 + 1
    assert generated_tokens(new_tokens, (2, 7)) == 2 + 4 + 1
    assert generated_tokens(new_tokens, ()) == 12


def test_raw_generate_runs_the_full_length_without_stop_ids(model, batch):
    prompts = batch.select(["input_ids", "attention_mask", "position_ids"])
    sampling = SamplingParams(n=2, max_tokens=6, temperature=1.0, top_k=-1)
    raw = RawGenerate(model, prompts, sampling, pad_token_id=0)
    assert raw.config.top_k == 0 and raw.config.eos_token_id is None  # no hidden top-50 default, no stop
    assert raw() == ROWS * 2 * 6
