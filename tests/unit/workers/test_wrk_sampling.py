"""Token sampling: greedy, temperature, top-k / top-p truncation, and the reported log-probabilities."""

import json

import pytest
import torch
from omegaconf import OmegaConf

from maxrl.algorithms import SamplingDistribution, log_probs_from_logits
from maxrl.data.batch import Batch
from maxrl.workers.rollout import (
    SamplingParams,
    assemble_rollout,
    sampling_params_from_config,
    stop_token_ids,
)
from maxrl.workers.rollout.sampling import sample_next_tokens, sampling_distribution, truncate_logits

LOGITS = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 0.5, 0.5]])


def test_greedy_picks_the_argmax_and_reports_its_untempered_log_prob():
    tokens, log_probs = sample_next_tokens(LOGITS, SamplingParams(do_sample=False, temperature=0.0))
    assert tokens.tolist() == [0, 1]
    expected = torch.log_softmax(LOGITS, -1)[[0, 1], [0, 1]]
    torch.testing.assert_close(log_probs, expected)


def test_sampled_frequencies_match_the_tempered_softmax():
    sampling = SamplingParams(temperature=0.7)
    generator = torch.Generator().manual_seed(0)
    draws = 20000
    tokens, log_probs = sample_next_tokens(LOGITS[:1].expand(draws, -1), sampling, generator)
    frequencies = torch.bincount(tokens, minlength=4).float() / draws
    expected = torch.softmax(LOGITS[0] / 0.7, -1)
    assert (frequencies - expected).abs().max() < 0.015  # ~4 standard errors at 20k draws
    torch.testing.assert_close(log_probs, torch.log_softmax(LOGITS[0] / 0.7, -1)[tokens])


def test_truncation_keeps_the_top_k_and_the_nucleus():
    assert torch.isinf(truncate_logits(LOGITS, top_k=2, top_p=1.0)).tolist() == [
        [False, False, True, True],
        [True, False, False, False],  # row 2 ties at the second place: both tied tokens stay
    ]
    # softmax of row 1 is (0.64, 0.24, 0.09, 0.03): the 0.8 nucleus is tokens 0 and 1.
    kept = ~torch.isinf(truncate_logits(LOGITS[:1], top_k=-1, top_p=0.8))
    assert kept.tolist() == [[True, True, False, False]]
    assert not torch.isinf(truncate_logits(LOGITS, top_k=0, top_p=1.0)).any()


def test_truncated_sampling_reports_the_log_probs_of_the_distribution_it_draws_from():
    """As vLLM's processed_logprobs: the tempered distribution cut to the nucleus and renormalised, so the
    reported probabilities are the sampled frequencies (before, the untruncated ones were reported)."""
    sampling = SamplingParams(temperature=0.8, top_k=3, top_p=0.8)
    generator = torch.Generator().manual_seed(1)
    draws = 20000
    tokens, log_probs = sample_next_tokens(LOGITS[:1].expand(draws, -1), sampling, generator)
    tempered = torch.softmax(LOGITS[0] / 0.8, -1)  # (0.72, 0.21, 0.06, 0.02): the 0.8 nucleus is tokens 0, 1
    assert set(tokens.tolist()) == {0, 1}
    renormalised = tempered[:2] / tempered[:2].sum()
    torch.testing.assert_close(log_probs, renormalised.log()[tokens])
    frequencies = torch.bincount(tokens, minlength=2).float() / draws
    assert (frequencies - renormalised).abs().max() < 0.015
    trainer = log_probs_from_logits(LOGITS[:1].expand(draws, -1), tokens, SamplingDistribution(0.8, 3, 0.8))
    torch.testing.assert_close(trainer, log_probs)  # the trainer takes its log-probs under the same distribution


def test_the_trainer_keeps_a_token_outside_its_nucleus_finite():
    """An updated policy may no longer hold the sampled token in its top-k: its log-prob stays finite (the
    token counts as kept), so ratios and losses stay defined."""
    labels = torch.tensor([3, 1])  # token 3 is outside row 1's top-2
    log_probs = log_probs_from_logits(LOGITS, labels, SamplingDistribution(top_k=2))
    kept_row_one = torch.tensor([2.0, 1.0, -1.0])  # tokens 0, 1 and the label 3
    torch.testing.assert_close(log_probs[0], torch.log_softmax(kept_row_one, -1)[2])
    kept_row_two = torch.tensor([3.0, 0.5, 0.5])  # the top 2 and the token tied with the second
    torch.testing.assert_close(log_probs[1], torch.log_softmax(kept_row_two, -1)[0])


@pytest.mark.parametrize(("rollout", "expected"), [
    ({"do_sample": True, "temperature": 0.7, "top_k": 5, "top_p": 0.9}, SamplingDistribution(0.7, 5, 0.9)),
    ({"do_sample": False, "temperature": 0.7, "top_k": 5, "top_p": 0.9}, SamplingDistribution()),
])
def test_the_trainer_takes_log_probs_under_the_rollouts_distribution(rollout, expected):
    """Greedy decoding reports temperature-1 log-probs (as vLLM does), so the trainer then uses temperature 1
    whatever rollout.temperature says."""
    assert sampling_distribution(OmegaConf.create(rollout)) == expected


def test_a_seeded_generator_repeats_the_draw():
    sampling = SamplingParams(temperature=1.0)
    first = sample_next_tokens(LOGITS, sampling, torch.Generator().manual_seed(5))
    second = sample_next_tokens(LOGITS, sampling, torch.Generator().manual_seed(5))
    assert torch.equal(first[0], second[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"temperature": 0.0}, "positive temperature"), ({"top_p": 0.0}, "top_p"), ({"n": 0}, "n >= 1")],
)
def test_invalid_sampling_params(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SamplingParams(**kwargs)


ROLLOUT = OmegaConf.create(
    {
        "n": 4, "temperature": 0.9, "top_p": 0.95, "top_k": 20, "do_sample": True, "response_length": 32,
        "ignore_eos": False,
        "val_kwargs": {"n": 2, "do_sample": False, "temperature": 0.0, "top_p": 1.0, "top_k": -1},
    }
)


def test_sampling_params_for_training_and_validation():
    train = sampling_params_from_config(ROLLOUT, [7, 3, 7], seed=11)
    assert train == SamplingParams(n=4, max_tokens=32, do_sample=True, temperature=0.9, top_p=0.95, top_k=20,
                                   stop_token_ids=(3, 7), seed=11)
    val = sampling_params_from_config(ROLLOUT, [3], validate=True)
    assert (val.n, val.do_sample, val.max_tokens, val.stop_token_ids) == (2, False, 32, (3,))
    ignore = OmegaConf.merge(ROLLOUT, {"ignore_eos": True})
    assert sampling_params_from_config(ignore, [3]).stop_token_ids == ()


def test_stop_ids_join_tokenizer_eos_and_generation_config(tmp_path, tiny_tokenizer):
    assert stop_token_ids(tmp_path, tiny_tokenizer) == [tiny_tokenizer.eos_token_id]
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [5, tiny_tokenizer.eos_token_id]}))
    assert stop_token_ids(tmp_path, tiny_tokenizer) == sorted({5, tiny_tokenizer.eos_token_id})


def test_assemble_rollout_continues_prompt_positions():
    prompts = Batch(
        {
            "input_ids": torch.tensor([[0, 5, 6], [4, 5, 6]]),
            "attention_mask": torch.tensor([[0, 1, 1], [1, 1, 1]]),
            "position_ids": torch.tensor([[0, 0, 1], [0, 1, 2]]),
        }
    )
    responses = torch.tensor([[8, 2, 0], [9, 9, 9]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    out = assemble_rollout(prompts, responses, mask, torch.zeros(2, 3))
    assert out["position_ids"].tolist() == [[0, 0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5]]
    assert out["attention_mask"].tolist() == [[0, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]
    assert out["input_ids"].tolist() == [[0, 5, 6, 8, 2, 0], [4, 5, 6, 9, 9, 9]]
    assert torch.equal(out["prompts"], prompts["input_ids"])
    assert out["rollout_log_probs"].dtype == torch.float32
