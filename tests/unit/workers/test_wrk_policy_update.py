"""`update_policy` in a one-process world: micro-batch size and padding rows do not change the update."""

import copy
import dataclasses

import pytest
import torch

from maxrl.algorithms import LOSS_AGG_MODES
from maxrl.data.batch import Batch
from maxrl.trainer.metrics import rollout_mismatch_metrics
from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.log_probs import ForwardOptions, response_log_probs
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.policy_update import PolicyLoss, update_policy

RESPONSE_LENGTH = 6


pytestmark = pytest.mark.usefixtures("one_process_world")  # the update all-reduces its normaliser


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    return build_tiny_causal_lm(vocab_size=len(tiny_tokenizer), pad_token_id=tiny_tokenizer.pad_token_id, seed=7)


@pytest.fixture(scope="module")
def update_batch(model, prompt_batch):
    """6 samples with uneven response lengths, slightly off-policy old log-probs and random advantages."""
    generator = torch.Generator().manual_seed(0)
    prompts = prompt_batch.repeat(2)
    num = len(prompts)
    responses = torch.randint(3, 300, (num, RESPONSE_LENGTH), generator=generator)
    lengths = torch.tensor([6, 2, 5, 1, 4, 6])
    response_mask = (torch.arange(RESPONSE_LENGTH)[None] < lengths[:, None]).long()
    positions = prompts["position_ids"][:, -1:] + torch.arange(1, RESPONSE_LENGTH + 1)
    batch = Batch({
        "input_ids": torch.cat([prompts["input_ids"], responses], 1),
        "attention_mask": torch.cat([prompts["attention_mask"], response_mask], 1),
        "position_ids": torch.cat([prompts["position_ids"], positions], 1),
        "responses": responses,
        "response_mask": response_mask,
    })
    with torch.no_grad():
        log_probs, _ = response_log_probs(model, batch, 1.0)
    batch.tensors["old_log_probs"] = log_probs + 0.3 * torch.randn(log_probs.shape, generator=generator)
    batch.tensors["advantages"] = torch.randn(num, 1, generator=generator).expand(-1, RESPONSE_LENGTH).clone()
    batch.tensors["ref_log_prob"] = log_probs + 0.1 * torch.randn(log_probs.shape, generator=generator)
    return batch


def run_update(model, batch, spec, micro_batch):
    trained = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-3)
    metrics = update_policy(trained, optimizer, batch, spec, mini_batch_per_device=4,
                            micro_batching=MicroBatching(micro_batch), ppo_epochs=2, grad_clip=1.0)
    return trained, metrics


def update_vector(initial, trained):
    return torch.cat([(b - a).flatten() for a, b in zip(initial.parameters(), trained.parameters())]).detach()


def assert_same_update(initial, first, second):
    """Equal loss and grad norm (scale-sensitive, rel 1e-5) and equal parameter updates up to 1e-3 relative.

    AdamW divides by sqrt(v), which turns float noise on coordinates whose gradient is ~1e-8 into update
    differences of up to ~lr/50 on a few coordinates: the norm-relative check tolerates exactly that.
    """
    (model_a, metrics_a), (model_b, metrics_b) = first, second
    for key in ("actor/pg_loss", "actor/grad_norm", "actor/kl_loss", "actor/entropy", "actor/ppo_kl"):
        assert metrics_a[key] == pytest.approx(metrics_b[key], rel=1e-5, abs=1e-7), key
    update_a, update_b = update_vector(initial, model_a), update_vector(initial, model_b)
    assert (update_a - update_b).norm() <= 1e-3 * update_a.norm()


@pytest.mark.parametrize("loss_agg_mode", LOSS_AGG_MODES)
def test_micro_batch_size_does_not_change_the_update(model, update_batch, loss_agg_mode):
    spec = PolicyLoss(loss_agg_mode=loss_agg_mode, entropy_coeff=0.01, use_kl_loss=True, kl_loss_coef=0.1)
    whole = run_update(model, update_batch, spec, micro_batch=None)
    assert_same_update(model, whole, run_update(model, update_batch, spec, micro_batch=1))
    assert_same_update(model, whole, run_update(model, update_batch, spec, micro_batch=3))
    assert whole[1]["actor/skipped_steps"] == 0.0


def test_padding_rows_contribute_nothing(model, update_batch):
    spec = PolicyLoss(use_kl_loss=True, kl_loss_coef=0.1)
    padded, num_pad = update_batch.pad_to_multiple(4)
    assert num_pad == 2
    padded.tensors["advantages"][-num_pad:] = 100.0  # would dominate the update if it counted
    unpadded = run_update(model, update_batch, spec, micro_batch=2)
    assert_same_update(model, unpadded, run_update(model, padded, spec, micro_batch=2))


def test_the_first_mini_batch_is_on_policy_when_old_log_probs_are_current(model, update_batch):
    with torch.no_grad():
        current, _ = response_log_probs(model, update_batch, 1.0)
    fields = [key for key in update_batch.keys() if key != "old_log_probs"]
    on_policy = update_batch.select(fields).union(Batch({"old_log_probs": current}))
    trained = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-3)
    metrics = update_policy(trained, optimizer, on_policy.slice(0, 4), PolicyLoss(), mini_batch_per_device=4,
                            micro_batching=MicroBatching(2))
    assert metrics["actor/ppo_kl"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["actor/pg_clipfrac"] == 0.0


def test_a_non_finite_gradient_skips_the_step(model, update_batch):
    trained = copy.deepcopy(model)
    before = [p.detach().clone() for p in trained.parameters()]
    broken = update_batch.slice(0, 4)
    broken.tensors["advantages"] = broken["advantages"].clone()  # a slice is a view of the shared fixture
    broken.tensors["advantages"][0, 0] = float("inf")
    optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-3)
    metrics = update_policy(trained, optimizer, broken, PolicyLoss(), mini_batch_per_device=4, micro_batching=MicroBatching(4))
    assert metrics["actor/skipped_steps"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, trained.parameters()))


def test_without_old_log_probs_a_single_step_equals_the_recomputed_one(model, update_batch):
    """One epoch, one mini-batch: the update's own detached log-probs are the old ones, exactly."""
    with torch.no_grad():
        current, _ = response_log_probs(model, update_batch, 1.0)
    without = update_batch.select([key for key in update_batch.keys() if key != "old_log_probs"])
    recomputed = without.union(Batch({"old_log_probs": current}))
    spec = PolicyLoss(entropy_coeff=0.01, use_kl_loss=True, kl_loss_coef=0.1)
    results = []
    for batch in (without, recomputed):
        trained = copy.deepcopy(model)
        optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-3)
        metrics = update_policy(trained, optimizer, batch, spec, mini_batch_per_device=len(batch),
                                micro_batching=MicroBatching(2), grad_clip=1.0)
        results.append((trained, metrics))
    assert_same_update(model, *results)
    assert results[0][1]["actor/ppo_kl"] == 0.0 and results[0][1]["actor/pg_clipfrac"] == 0.0


@pytest.mark.parametrize("mini_batch, epochs", [(3, 1), (6, 2)])
def test_without_old_log_probs_a_multi_step_update_is_refused(model, update_batch, mini_batch, epochs):
    without = update_batch.select([key for key in update_batch.keys() if key != "old_log_probs"])
    optimizer = torch.optim.AdamW(copy.deepcopy(model).parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="recompute_old_log_prob=always"):
        update_policy(model, optimizer, without, PolicyLoss(), mini_batch_per_device=mini_batch,
                      micro_batching=MicroBatching(None), ppo_epochs=epochs)


def test_without_old_log_probs_the_update_reports_the_sampler_gap(model, update_batch):
    """The means the old-log-prob pass would have logged, from the update's own forward."""
    with torch.no_grad():
        current, _ = response_log_probs(model, update_batch, 1.0)
    shift = 0.05 * torch.randn(current.shape, generator=torch.Generator().manual_seed(3))
    without = update_batch.select([key for key in update_batch.keys() if key != "old_log_probs"])
    batch = without.union(Batch({"rollout_log_probs": current + shift}))
    optimizer = torch.optim.AdamW(copy.deepcopy(model).parameters(), lr=1e-3)
    metrics = update_policy(copy.deepcopy(model), optimizer, batch, PolicyLoss(), mini_batch_per_device=len(batch),
                            micro_batching=MicroBatching(4))
    expected = rollout_mismatch_metrics(current + shift, current, update_batch["response_mask"])
    for key in ("training/rollout_probs_diff_mean", "training/rollout_log_probs_diff_mean", "training/rollout_actor_kl"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-5), key


@pytest.mark.parametrize("options", [ForwardOptions(True, False), ForwardOptions(False, True), ForwardOptions(True, True)],
                         ids=["remove_padding", "share_prompt", "both"])
@pytest.mark.parametrize("micro_batching", [MicroBatching(), MicroBatching(3), MicroBatching(max_tokens=40),
                                            MicroBatching(max_tokens=400)],
                         ids=["whole", "3_samples", "40_tokens", "400_tokens"])
def test_forward_layouts_and_token_budgets_do_not_change_the_update(model, update_batch, options, micro_batching):
    """Every layout and micro-batching gives the padded, all-at-once update (loss, grad norm, parameters)."""
    spec = PolicyLoss(entropy_coeff=0.01, use_kl_loss=True, kl_loss_coef=0.1)
    padded = run_update(model, update_batch, spec, micro_batch=None)
    trained = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-3)
    metrics = update_policy(trained, optimizer, update_batch, dataclasses.replace(spec, forward=options),
                            mini_batch_per_device=4, micro_batching=micro_batching, ppo_epochs=2, grad_clip=1.0)
    assert_same_update(model, padded, (trained, metrics))
