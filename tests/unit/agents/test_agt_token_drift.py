"""No token drift: the trainer's log-probs of an assembled multi-turn episode equal the sampler's at every
token the model generated, because the episode is kept as token ids and never re-tokenized.

A tiny Qwen2 is taught to answer with a tool call, so that sampled episodes hold several turns, tool answers
cut to ``max_tool_response_length`` and left-padded prompts of different lengths; the hf backend samples
them through the agent loop in fp32, and the trainer's log-prob pass (every forward layout) must agree at
every mask-1 position. The same episodes decoded and tokenized again are a different token sequence: that is
the drift re-tokenizing frameworks suffer, and this test would see it. Loss terms read mask-1 tokens only.
"""

import pytest
import torch
from agent_helpers import sample_episodes, teach_tool_calls

from maxrl.agents.environment import TRUNCATION_MARK
from maxrl.algorithms import RolloutCorrection, agg_loss, compute_policy_loss, entropy_from_logits, kl_penalty
from maxrl.config import compose_config
from maxrl.utils.tiny_models import build_tiny_model_dir
from maxrl.workers.log_probs import ForwardOptions, micro_batched_log_probs, response_log_probs
from maxrl.workers.micro_batches import MicroBatching
from maxrl.workers.rollout.hf_rollout import HFRollout

LAYOUTS = [ForwardOptions(False, False), ForwardOptions(True, False), ForwardOptions(False, True), ForwardOptions(True, True)]


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    """Episodes sampled by the hf backend through the agent loop, as the trainer's batch, and the model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("drift")
    model_dir = build_tiny_model_dir(root / "model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    teach_tool_calls(model_dir, tokenizer)
    config = compose_config([f"actor_rollout_ref.model.path={model_dir}", "actor_rollout_ref.rollout.dtype=fp32"])
    batch, out = sample_episodes(HFRollout(config, tokenizer, "cpu", seed=0), tokenizer, root)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return batch, out, model, tokenizer


def test_the_episodes_exercise_turns_holes_cut_answers_and_left_padding(episodes):
    batch, out, _, tokenizer = episodes
    assert int(out.fields["episode_assistant_turns"].max()) >= 2 and int(out.fields["episode_tool_calls"].sum()) >= 2
    holes = (batch["response_mask"] == 0) & (batch["attention_mask"][:, -batch["responses"].shape[1]:] == 1)
    trained_after_hole = [bool(batch["response_mask"][row, int(holes[row].nonzero().max()) + 1:].any())
                          for row in range(len(batch)) if holes[row].any()]
    assert any(trained_after_hole)  # a model turn follows inserted tokens: interior holes
    texts = [tokenizer.decode(batch["responses"][row][holes[row]]) for row in range(len(batch))]
    assert any(TRUNCATION_MARK in text for text in texts)
    prompt_lengths = batch["attention_mask"][:, :batch["prompts"].shape[1]].sum(dim=-1)
    assert len(set(prompt_lengths.tolist())) == 2


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda o: f"remove_padding={o.remove_padding},share_prompt={o.share_prompt}")
def test_the_trainers_log_probs_equal_the_samplers_at_every_generated_token(episodes, layout):
    batch, _, model, _ = episodes
    mask = batch["response_mask"].bool()
    with torch.no_grad():
        log_probs, _ = response_log_probs(model, batch, 1.0, options=layout)
        budgeted, _ = micro_batched_log_probs(model, batch, 1.0, MicroBatching(max_tokens=600), False, layout)
    for trainer in (log_probs, budgeted):
        torch.testing.assert_close(trainer[mask], batch["rollout_log_probs"][mask], atol=1e-5, rtol=1e-5)


def test_tokenizing_the_decoded_episodes_again_would_drift(episodes):
    """What a framework that re-renders text between turns would train on: other tokens, other log-probs."""
    batch, _, model, tokenizer = episodes
    response_columns = batch["responses"].shape[1]
    real = batch["attention_mask"][:, -response_columns:].bool()
    drifted = [row for row in range(len(batch))
               if tokenizer(tokenizer.decode(batch["responses"][row][real[row]]), add_special_tokens=False)["input_ids"]
               != batch["responses"][row][real[row]].tolist()]
    assert drifted, "every sampled episode happens to be in canonical tokenization; sample more"


def test_inserted_tokens_get_no_gradient_from_any_loss_term(episodes):
    batch, _, model, _ = episodes
    mask = batch["response_mask"]
    inserted = (mask == 0) & (batch["attention_mask"][:, -mask.shape[1]:] == 1)
    logits = torch.randn(*mask.shape, 11, dtype=torch.float64, requires_grad=True)
    log_prob = torch.log_softmax(logits, -1)[..., 0]
    old = log_prob.detach() + 0.1 * torch.randn_like(log_prob)
    advantages = torch.randn_like(log_prob)
    pg, _ = compute_policy_loss("vanilla", old, log_prob, advantages, mask, "token-mean", mask.sum().double(),
                                clip_ratio=0.2)
    kl = agg_loss(kl_penalty(log_prob, old, "low_var_kl"), mask, "token-mean", mask.sum().double())
    entropy = agg_loss(entropy_from_logits(logits), mask, "token-mean", mask.sum().double())
    (pg + kl - entropy).backward()
    assert inserted.any() and logits.grad[inserted].abs().max() == 0
    assert logits.grad[mask.bool()].abs().sum() > 0
    # Rollout correction weighs and counts generated tokens only: a wild sampler log-prob on an inserted token
    # (there is none: the sampler reports 0) changes nothing.
    correction = RolloutCorrection(rollout_is="token", rollout_rs="token_k1", rollout_rs_threshold=2.0)
    sampler = batch["rollout_log_probs"].double()
    wild = sampler.masked_fill(inserted, -50.0)
    assert correction(old, sampler, mask).metrics == correction(old, wild, mask).metrics
