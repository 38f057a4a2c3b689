"""`update_policy` with `algorithm.rollout_correction`: a no-op when the sampler and trainer agree, and
exactly the hand-weighted loss when one token's log-probs disagree."""

import copy
import dataclasses

import pytest
import torch

from maxrl.algorithms import RolloutCorrection
from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.log_probs import response_log_probs
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.policy_update import PolicyLoss, update_policy

RESPONSE_LENGTH = 6
LENGTHS = [6, 2, 5, 1, 4, 6]
TOKENS = sum(LENGTHS)
P = "rollout_corr/"


pytestmark = pytest.mark.usefixtures("one_process_world")  # the update all-reduces its normaliser


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    return build_tiny_causal_lm(vocab_size=len(tiny_tokenizer), pad_token_id=tiny_tokenizer.pad_token_id, seed=3)


@pytest.fixture(scope="module")
def batch(model, prompt_batch):
    """6 samples of uneven lengths with one advantage per sample, and the model's own log-probs."""
    generator = torch.Generator().manual_seed(0)
    prompts = prompt_batch.repeat(2)
    responses = torch.randint(3, 300, (len(prompts), RESPONSE_LENGTH), generator=generator)
    response_mask = (torch.arange(RESPONSE_LENGTH)[None] < torch.tensor(LENGTHS)[:, None]).long()
    positions = prompts["position_ids"][:, -1:] + torch.arange(1, RESPONSE_LENGTH + 1)
    batch = Batch({
        "input_ids": torch.cat([prompts["input_ids"], responses], 1),
        "attention_mask": torch.cat([prompts["attention_mask"], response_mask], 1),
        "position_ids": torch.cat([prompts["position_ids"], positions], 1),
        "responses": responses,
        "response_mask": response_mask,
        "advantages": torch.randn(len(prompts), 1, generator=generator).expand(-1, RESPONSE_LENGTH).clone(),
    })
    with torch.no_grad():
        current, _ = response_log_probs(model, batch, 1.0)
    return batch.union(Batch({"current": current}))


def train(model, batch, spec, **kwargs):
    trained = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-3)
    options = dict(mini_batch_per_device=len(batch), micro_batching=MicroBatching(2)) | kwargs
    return trained, update_policy(trained, optimizer, batch, spec, **options)


def with_fields(batch, **fields):
    kept = batch.select([key for key in batch.keys() if key not in fields and key != "current"])
    return kept.union(Batch(fields)) if fields else kept


def test_agreeing_log_probs_leave_the_update_unchanged_exactly(model, batch):
    """Off-policy old log-probs over 2 epochs x 2 mini-batches; the sampler agrees with the trainer."""
    old = batch["current"] + 0.3 * torch.randn(batch["current"].shape, generator=torch.Generator().manual_seed(1))
    data = with_fields(batch, old_log_probs=old, rollout_log_probs=old.clone())
    spec = PolicyLoss(entropy_coeff=0.01)
    correction = RolloutCorrection(rollout_is="token", rollout_rs="seq_sum_k1", rollout_rs_threshold=2.0,
                                   rollout_token_veto_threshold=1e-4)
    plain = train(model, data, spec, mini_batch_per_device=3, ppo_epochs=2)
    corrected = train(model, data, dataclasses.replace(spec, rollout_correction=correction),
                      mini_batch_per_device=3, ppo_epochs=2)
    assert all(torch.equal(a, b) for a, b in zip(plain[0].parameters(), corrected[0].parameters()))
    for key, value in plain[1].items():
        assert corrected[1][key] == value, key
    assert corrected[1][P + "weight_mean"] == 1.0 and corrected[1][P + "rollout_is_mean"] == 1.0
    assert corrected[1][P + "rollout_is_ratio_fraction_high"] == 0.0
    assert corrected[1][P + "rollout_rs_masked_fraction"] == 0.0


@pytest.mark.parametrize("correction, row, shift, weight", [
    (RolloutCorrection(rollout_is="token", rollout_is_threshold=2.0), 0, -3.0, 2.0),  # ρ = e^3, capped at 2
    (RolloutCorrection(rollout_rs="token_k1", rollout_rs_threshold=2.0), 2, 3.0, 0.0),  # ρ = e^-3, rejected
], ids=["capped", "rejected"])
def test_one_disagreeing_token_is_weighted_as_by_hand(model, batch, correction, row, shift, weight):
    """Without old_log_probs the ratio is exactly 1, so the policy loss is Σ_t w_t (-A_t) / N: the
    corrected update equals the plain one with that token's advantage multiplied by its weight."""
    rollout = batch["current"].clone()
    rollout[row, 0] += shift
    spec = PolicyLoss(rollout_correction=correction)
    trained, metrics = train(model, with_fields(batch, rollout_log_probs=rollout), spec)

    advantages = batch["advantages"].clone()
    expected_loss = -(advantages * batch["response_mask"]).sum() / TOKENS
    expected_loss -= (weight - 1) * advantages[row, 0] / TOKENS
    assert metrics["actor/pg_loss"] == pytest.approx(float(expected_loss), rel=1e-5)
    assert metrics[P + "weight_mean"] == pytest.approx((TOKENS - 1 + weight) / TOKENS, rel=1e-5)
    if correction.rollout_is:
        assert metrics[P + "rollout_is_ratio_fraction_high"] == pytest.approx(1 / TOKENS)
    else:
        assert metrics[P + "rollout_rs_masked_fraction"] == pytest.approx(1 / TOKENS)

    advantages[row, 0] *= weight
    by_hand, by_hand_metrics = train(model, with_fields(batch, advantages=advantages), PolicyLoss())
    assert metrics["actor/grad_norm"] == pytest.approx(by_hand_metrics["actor/grad_norm"], rel=1e-5)
    update = torch.cat([(b - a).flatten() for a, b in zip(model.parameters(), trained.parameters())])
    update_by_hand = torch.cat([(b - a).flatten() for a, b in zip(model.parameters(), by_hand.parameters())])
    assert (update - update_by_hand).norm() <= 1e-3 * update_by_hand.norm()


def test_the_correction_needs_rollout_log_probs(model, batch):
    spec = PolicyLoss(rollout_correction=RolloutCorrection(rollout_is="token"))
    with pytest.raises(ValueError, match="rollout_log_probs"):
        train(model, with_fields(batch), spec)
