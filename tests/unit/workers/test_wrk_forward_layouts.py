"""Padding-free and shared-prompt forwards, and token-budget micro-batches, give the padded results exactly
(fp32, 1e-5): log-probs, entropies and gradients; and the hf rollout draws the same samples when it
prefills each prompt once."""

import dataclasses

import pytest
import torch
from omegaconf import OmegaConf

from maxrl.config import compose_config
from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.log_probs import BatchForwards, ForwardOptions, micro_batched_log_probs, response_log_probs
from maxrl.workers.lora import LoraSettings, add_adapters
from maxrl.workers.micro_batches import MicroBatching, RowLengths, token_budget_plan
from maxrl.workers.rollout import SamplingParams, build_rollout

LAYOUTS = {
    "remove_padding": ForwardOptions(remove_padding=True),
    "share_prompt": ForwardOptions(share_prompt=True),
    "both": ForwardOptions(remove_padding=True, share_prompt=True),
}
RESPONSE_LENGTH = 7


@pytest.fixture(scope="module")
def model():
    return build_tiny_causal_lm(vocab_size=96, hidden_size=32, num_layers=2, seed=3)


@pytest.fixture(scope="module")
def grouped_batch():
    """4 prompts (left padding 0-4 columns) x 3 samples, uneven response lengths (one of 1, none reaching
    the last column), rows shuffled so that a prompt's samples are not adjacent."""
    generator = torch.Generator().manual_seed(0)
    prompt_length, n = 9, 3
    pad = torch.tensor([0, 2, 4, 1])
    prompt_mask = (torch.arange(prompt_length)[None] >= pad[:, None]).long()
    prompts = torch.randint(1, 96, (4, prompt_length), generator=generator) * prompt_mask
    positions = (prompt_mask.cumsum(1) - 1).clamp(min=0)
    prompts, prompt_mask, positions = (t.repeat_interleave(n, 0) for t in (prompts, prompt_mask, positions))
    lengths = torch.tensor([1, 6, 3, 5, 2, 6, 4, 1, 6, 3, 2, 5])
    response_mask = (torch.arange(RESPONSE_LENGTH)[None] < lengths[:, None]).long()
    responses = torch.randint(1, 96, (12, RESPONSE_LENGTH), generator=generator) * response_mask
    batch = Batch({
        "input_ids": torch.cat([prompts, responses], 1),
        "attention_mask": torch.cat([prompt_mask, response_mask], 1),
        "position_ids": torch.cat([positions, positions[:, -1:] + torch.arange(1, RESPONSE_LENGTH + 1)], 1),
        "responses": responses,
        "response_mask": response_mask,
    })
    return batch.reorder(torch.randperm(12, generator=generator))


def forward_and_gradients(model, batch, options, temperature=0.7):
    """Masked log-probs and entropies, and the gradient of a loss that uses both."""
    model.zero_grad()
    log_probs, entropy = response_log_probs(model, batch, temperature, with_entropy=True, options=options)
    mask = batch["response_mask"]
    ((log_probs * torch.linspace(-1, 1, mask.shape[1]) + 0.1 * entropy) * mask).sum().backward()
    return log_probs * mask, entropy * mask, trained_gradient(model)


def trained_gradient(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])


@pytest.mark.parametrize("grouped_sdpa", [False, True], ids=["", "grouped_query_sdpa"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_log_probs_entropies_and_gradients_equal_the_padded_forward(model, grouped_batch, layout, grouped_sdpa,
                                                                     monkeypatch):
    """Also with grouped key/value heads handed to sdpa as they are, as CPU workers run it
    (`maxrl.utils.cpu_process.use_grouped_query_sdpa`), against the padded forward without that."""
    monkeypatch.delenv("TRANSFORMERS_SDPA_FORCE_GQA", raising=False)
    expected = forward_and_gradients(model, grouped_batch, ForwardOptions())
    if grouped_sdpa:
        monkeypatch.setenv("TRANSFORMERS_SDPA_FORCE_GQA", "1")
    got = forward_and_gradients(model, grouped_batch, LAYOUTS[layout])
    for name, a, b in zip(("log_probs", "entropy", "gradient"), got, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


def test_trimmed_positions_past_the_longest_response_are_zero(model, grouped_batch):
    with torch.no_grad():
        log_probs, entropy = response_log_probs(model, grouped_batch, 1.0, with_entropy=True,
                                                options=LAYOUTS["both"])
    assert log_probs.shape == entropy.shape == grouped_batch["responses"].shape
    assert (log_probs[:, -1] == 0).all() and (entropy[:, -1] == 0).all()


def test_a_batch_without_shared_prompts_still_equals_the_padded_forward(model, grouped_batch):
    singles = grouped_batch.reorder(torch.tensor([0, 1, 2]))
    with torch.no_grad():
        expected, _ = response_log_probs(model, singles, 1.0)
        got, _ = response_log_probs(model, singles, 1.0, options=LAYOUTS["both"])
    mask = singles["response_mask"].bool()
    torch.testing.assert_close(got[mask], expected[mask], atol=1e-5, rtol=0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_micro_batch_runs_the_same_number_of_forwards(model, grouped_batch, layout):
    """FSDP ranks gather parameters in every forward: a rank whose micro-batch shares no prompt, or whose
    responses are all 1 token long, must still run as many forwards as the others (else a deadlock)."""
    calls = []
    handle = model.register_forward_pre_hook(lambda module, args: calls.append(1))
    lengths = grouped_batch["response_mask"].sum(-1)
    one_token = grouped_batch.reorder((lengths == 1).nonzero()[:, 0])
    distinct = grouped_batch.reorder(torch.tensor([0, 1, 2]))
    counts = []
    with torch.no_grad():
        for batch in (grouped_batch, one_token, distinct):
            calls.clear()
            response_log_probs(model, batch, 1.0, options=LAYOUTS[layout])
            counts.append(len(calls))
    handle.remove()
    assert len(set(counts)) == 1, counts


@pytest.mark.parametrize("layout", ["share_prompt", "both"])
def test_one_prompt_pass_serves_every_micro_batch_with_exact_gradients(model, grouped_batch, layout):
    """4 prompts of 9 tokens cost 36 of a 72-token budget: they run once for the whole batch, and the
    responses fill several micro-batches whose gradients reach the prompt pass only at `finish`."""
    expected = forward_and_gradients(model, grouped_batch, ForwardOptions())
    for name, a, b in zip(("log_probs", "entropy", "gradient"),
                          prompt_once_forward_and_gradients(model, grouped_batch, LAYOUTS[layout]), expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


def prompt_once_forward_and_gradients(model, batch, options):
    """`forward_and_gradients` through `BatchForwards` on a 72-token budget, asserting that the prompt pass
    ran once for the whole batch and each micro-batch ran one response pass."""
    calls = []
    handle = model.register_forward_pre_hook(lambda module, args: calls.append(1))
    model.zero_grad()
    forwards = BatchForwards(model, batch, MicroBatching(max_tokens=72), options, 0.7)
    log_probs, entropy = torch.zeros(2, *batch["responses"].shape)
    for rows, micro in forwards:
        micro_log_probs, micro_entropy = forwards.log_probs(rows, micro, with_entropy=True)
        mask = micro["response_mask"]
        ((micro_log_probs * torch.linspace(-1, 1, mask.shape[1]) + 0.1 * micro_entropy) * mask).sum().backward()
        log_probs[rows], entropy[rows] = micro_log_probs.detach() * mask, micro_entropy.detach() * mask
    forwards.finish()
    handle.remove()
    assert forwards.prompts is not None and len(forwards.micro_batches) > 1
    assert len(calls) == 1 + len(forwards.micro_batches)  # one prompt pass, one response pass per micro-batch
    return log_probs, entropy, trained_gradient(model)


@pytest.mark.parametrize("targets", [("q_proj", "v_proj"), ("gate_proj", "up_proj", "down_proj"), "all-linear"],
                         ids=["q_v", "mlp_only", "all_linear"])
def test_one_prompt_pass_with_lora_on_some_projections_gives_exact_adapter_gradients(grouped_batch, targets):
    """With adapters on some projections only, part of the prompt pass has no graph (layer 0's keys without
    a k_proj adapter, all of layer 0's attention with MLP-only adapters); the batch-wide pass must still
    give the padded forward's log-probs and adapter gradients."""
    adapted = build_tiny_causal_lm(vocab_size=96, hidden_size=32, num_layers=2, seed=3)
    add_adapters(adapted, LoraSettings(rank=4, target_modules=targets), seed=0)  # in place, as the worker does
    with torch.no_grad():  # lora_B starts at 0, which would leave lora_A without a gradient
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    expected = forward_and_gradients(adapted, grouped_batch, ForwardOptions())
    got = prompt_once_forward_and_gradients(adapted, grouped_batch, LAYOUTS["both"])
    assert expected[2].abs().sum() > 0
    for name, a, b in zip(("log_probs", "entropy", "adapter gradient"), got, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


def test_a_prompt_pass_above_half_the_budget_runs_per_micro_batch(grouped_batch):
    plan = MicroBatching(max_tokens=71).forward_plan(grouped_batch, share_prompt=True)
    assert not plan.prompt_once
    assert MicroBatching(max_tokens=72).forward_plan(grouped_batch, share_prompt=True).prompt_once
    assert not MicroBatching(max_tokens=72).forward_plan(grouped_batch, share_prompt=False).prompt_once


@pytest.mark.parametrize("micro_batching", [MicroBatching(5), MicroBatching(max_tokens=30), MicroBatching(max_tokens=72)],
                         ids=["5_rows", "30_tokens", "72_tokens_prompt_once"])
def test_micro_batched_log_probs_come_back_in_row_order(model, grouped_batch, micro_batching):
    with torch.no_grad():
        expected, _ = response_log_probs(model, grouped_batch, 1.0)
    got, entropy = micro_batched_log_probs(model, grouped_batch, 1.0, micro_batching, True, LAYOUTS["both"])
    mask = grouped_batch["response_mask"].bool()
    torch.testing.assert_close(got[mask], expected[mask], atol=1e-5, rtol=0)
    assert entropy.shape == got.shape


def whole_rows(lengths: list[int]) -> RowLengths:
    """Rows costed whole: a prompt of 0 tokens and the given lengths."""
    return RowLengths(prompt=torch.zeros(len(lengths), dtype=torch.long), response=torch.tensor(lengths))


def test_token_budget_plan_covers_every_row_once_within_the_budget():
    lengths = torch.tensor([5, 30, 12, 12, 7, 50, 3, 9])
    plan = token_budget_plan(whole_rows(lengths.tolist()), max_tokens=36)
    assert sorted(torch.cat(plan).tolist()) == list(range(8))
    for rows in plan:
        longest = int(lengths[rows].max())
        assert len(rows) == 1 or len(rows) * longest <= 36  # a row over the budget goes alone
        assert int(lengths[rows[0]]) == longest  # longest first: micro-batches hold similar lengths
    assert [r.tolist() for r in plan][0] == [5]


def test_token_budget_plan_splits_its_largest_micro_batches_to_match_other_ranks():
    lengths = whole_rows([4, 4, 4, 4, 4, 4])
    assert len(token_budget_plan(lengths, max_tokens=100)) == 1
    plan = token_budget_plan(lengths, max_tokens=100, min_count=4)
    assert len(plan) == 4 and sorted(torch.cat(plan).tolist()) == list(range(6))
    assert len(token_budget_plan(lengths, max_tokens=100, min_count=9)) == 6  # never more than the rows


def test_token_budget_plan_spreads_rows_evenly_over_the_fewest_micro_batches():
    lengths = whole_rows([10] * 8)
    plan = token_budget_plan(lengths, max_tokens=70)  # 7 rows fit, so 2 micro-batches are needed
    assert [len(rows) for rows in plan] == [4, 4]  # not 7 + a remainder of 1
    uneven = whole_rows([30, 10, 10, 10, 10, 10])
    assert [rows.tolist() for rows in token_budget_plan(uneven, max_tokens=60)] == [[0], [1, 2, 3, 4, 5]]


def test_a_shared_prompt_is_costed_once_per_micro_batch():
    # 2 prompts of 10 tokens x 3 samples; responses of 4, 2, 1 tokens for each prompt.
    lengths = RowLengths(prompt=torch.full((6,), 10), response=torch.tensor([4, 2, 1, 4, 2, 1]),
                         prompt_ids=torch.tensor([0, 0, 0, 1, 1, 1]))
    assert lengths.cost([0, 1, 2]) == 10 + 3 * 4
    assert lengths.cost([0, 3]) == 2 * 10 + 2 * 4
    plan = token_budget_plan(lengths, max_tokens=2 * 10 + 6 * 4)
    assert [rows.tolist() for rows in plan] == [[0, 3, 1, 4, 2, 5]]  # by response length, prompts together
    whole = RowLengths(prompt=lengths.prompt, response=lengths.response)  # rows of 14, 14, 12, 12, 11, 11
    # 14+14+12 | 12+11+11 computes 42 + 36 positions; 14+14 | 12+12 | 11+11 computes 74, worth a third
    # micro-batch's overhead of 44 // 16 = 2
    assert [len(rows) for rows in token_budget_plan(whole, max_tokens=2 * 10 + 6 * 4)] == [2, 2, 2]


def test_the_cut_spends_micro_batches_only_where_they_trim_more_padding_than_their_overhead():
    lengths = whole_rows([40, 40, 10, 10, 10, 10])  # budget 160: overhead 10 per micro-batch
    assert [rows.tolist() for rows in token_budget_plan(lengths, max_tokens=160)] == [[0, 1], [2, 3, 4, 5]]
    close = whole_rows([12, 12, 10, 10, 10, 10])  # one micro-batch of 72; two would save 8 < 10
    assert [rows.tolist() for rows in token_budget_plan(close, max_tokens=160)] == [[0, 1, 2, 3, 4, 5]]


def test_the_plan_counts_the_rows_tokens_of_a_batch(grouped_batch):
    lengths = RowLengths.of(grouped_batch, share_prompt=True)
    prompt_length = grouped_batch["input_ids"].shape[1] - grouped_batch["responses"].shape[1]
    mask = grouped_batch["attention_mask"]
    torch.testing.assert_close(lengths.prompt + lengths.response, mask.sum(-1))
    torch.testing.assert_close(lengths.response, mask[:, prompt_length:].sum(-1))
    same_prompt = (grouped_batch["input_ids"][:, None, :prompt_length] == grouped_batch["input_ids"][None, :, :prompt_length]).all(-1)
    torch.testing.assert_close(same_prompt, lengths.prompt_ids[:, None] == lengths.prompt_ids[None, :])


def test_forward_options_come_from_the_model_keys():
    config = compose_config(["actor_rollout_ref.model.use_remove_padding=false"])
    assert ForwardOptions.from_config(config) == ForwardOptions(remove_padding=False, share_prompt=True)
    config.actor_rollout_ref.model.enable_gradient_checkpointing = True  # no KV cache under checkpointing
    assert ForwardOptions.from_config(config) == ForwardOptions(remove_padding=False, share_prompt=False)


def test_the_rollout_draws_the_same_samples_when_each_prompt_is_prefilled_once(rollout_config, tiny_tokenizer,
                                                                               prompt_batch):
    sampling = SamplingParams(n=4, max_tokens=6, stop_token_ids=(tiny_tokenizer.eos_token_id,), seed=5)
    outputs = {}
    for share in (False, True):
        config = OmegaConf.merge(rollout_config, {"actor_rollout_ref": {"model": {"share_prompt_prefix": share}}})
        backend = build_rollout("hf", config=config, tokenizer=tiny_tokenizer, device="cpu", seed=0)
        outputs[share] = backend.generate(prompt_batch, sampling)
    assert torch.equal(outputs[True]["responses"], outputs[False]["responses"])
    assert torch.equal(outputs[True]["input_ids"], outputs[False]["input_ids"])
    torch.testing.assert_close(outputs[True]["rollout_log_probs"], outputs[False]["rollout_log_probs"],
                               atol=1e-5, rtol=0)
    chunked = OmegaConf.merge(rollout_config, {"actor_rollout_ref": {"rollout": {"micro_batch_size": 8}}})
    backend = build_rollout("hf", config=chunked, tokenizer=tiny_tokenizer, device="cpu", seed=0)
    assert len(backend.generate(prompt_batch, dataclasses.replace(sampling, seed=None))) == 12
