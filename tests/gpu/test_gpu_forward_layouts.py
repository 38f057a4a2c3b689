"""The trimmed and shared-prompt forwards on a CUDA device: equal to the padded forward (fp32 at 1e-5,
bf16 within bf16 noise), gradients included, one prompt pass serving several micro-batches, and the hf
rollout decoding with each prompt's keys and values stored once on the GPU."""

import pytest
import torch
from gpu_helpers import gpu_config, needs_gpu, prompts, tiny_model

from maxrl.data.batch import Batch
from maxrl.utils.tiny_models import build_tiny_causal_lm
from maxrl.workers.log_probs import BatchForwards, ForwardOptions, response_log_probs
from maxrl.workers.micro_batches import MicroBatching

pytestmark = needs_gpu

LAYOUTS = [ForwardOptions(True, False), ForwardOptions(False, True), ForwardOptions(True, True)]


def grouped_batch(device):
    generator = torch.Generator().manual_seed(0)
    prompt_length, response_length, n = 12, 9, 4
    pad = torch.tensor([0, 3, 5])
    prompt_mask = (torch.arange(prompt_length)[None] >= pad[:, None]).long().repeat_interleave(n, 0)
    prompts = torch.randint(1, 96, (3, prompt_length), generator=generator).repeat_interleave(n, 0) * prompt_mask
    positions = (prompt_mask.cumsum(1) - 1).clamp(min=0)
    lengths = torch.randint(1, response_length, (12,), generator=generator)
    response_mask = (torch.arange(response_length)[None] < lengths[:, None]).long()
    responses = torch.randint(1, 96, (12, response_length), generator=generator) * response_mask
    return Batch({
        "input_ids": torch.cat([prompts, responses], 1),
        "attention_mask": torch.cat([prompt_mask, response_mask], 1),
        "position_ids": torch.cat([positions, positions[:, -1:] + torch.arange(1, response_length + 1)], 1),
        "responses": responses,
        "response_mask": response_mask,
    }).to(device)


def log_probs_and_gradient(model, batch, options):
    model.zero_grad()
    log_probs, _ = response_log_probs(model, batch, 1.0, options=options)
    mask = batch["response_mask"]
    (log_probs * mask).sum().backward()
    return (log_probs * mask).float(), torch.cat([p.grad.flatten().float() for p in model.parameters()])


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-5), (torch.bfloat16, 5e-2)], ids=["fp32", "bf16"])
@pytest.mark.parametrize("options", LAYOUTS, ids=["remove_padding", "share_prompt", "both"])
def test_forward_layouts_equal_the_padded_forward_on_the_gpu(dtype, tolerance, options, record_property):
    model = build_tiny_causal_lm(vocab_size=96, hidden_size=64, num_layers=2, seed=1).to("cuda", dtype)
    batch = grouped_batch("cuda")
    expected_lp, expected_grad = log_probs_and_gradient(model, batch, ForwardOptions())
    got_lp, got_grad = log_probs_and_gradient(model, batch, options)
    record_property("max_abs_log_prob_diff", (got_lp - expected_lp).abs().max().item())
    record_property("relative_grad_diff", ((got_grad - expected_grad).norm() / max(expected_grad.norm(), 1.0)).item())
    torch.testing.assert_close(got_lp, expected_lp, atol=tolerance, rtol=tolerance)
    assert (got_grad - expected_grad).norm() <= tolerance * max(expected_grad.norm(), 1.0)


def test_one_prompt_pass_for_all_micro_batches_on_the_gpu(record_property):
    """3 prompts of 12 tokens cost 36 of a 72-token budget: one prompt pass serves every micro-batch, its
    gradient backpropagated once at `finish` (fp32, 1e-5)."""
    model = build_tiny_causal_lm(vocab_size=96, hidden_size=64, num_layers=2, seed=1).to("cuda")
    batch = grouped_batch("cuda")
    expected_lp, expected_grad = log_probs_and_gradient(model, batch, ForwardOptions())
    model.zero_grad()
    forwards = BatchForwards(model, batch, MicroBatching(max_tokens=72), ForwardOptions(True, True), 1.0)
    got_lp = torch.zeros_like(expected_lp)
    for rows, micro in forwards:
        log_probs, _ = forwards.log_probs(rows, micro)
        (log_probs * micro["response_mask"]).sum().backward()
        got_lp[rows.to("cuda")] = (log_probs * micro["response_mask"]).detach()
    forwards.finish()
    got_grad = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert forwards.prompts is not None and len(forwards.micro_batches) > 1
    record_property("micro_batches", len(forwards.micro_batches))
    record_property("max_abs_log_prob_diff", (got_lp - expected_lp).abs().max().item())
    torch.testing.assert_close(got_lp, expected_lp, atol=1e-5, rtol=1e-5)
    assert (got_grad - expected_grad).norm() <= 1e-5 * max(expected_grad.norm(), 1.0)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_hf_rollout_draws_the_same_with_each_prompt_stored_once_on_the_gpu(tmp_path, dtype, record_property):
    """Left-padded prompts, 4 samples each: the shared-prompt cache against the repeated one."""
    from maxrl.utils.tiny_models import build_tiny_tokenizer
    from maxrl.workers.rollout import SamplingParams, build_rollout

    model_dir = tiny_model(tmp_path)
    tokenizer = build_tiny_tokenizer()
    config = gpu_config(model_dir, dtype, "actor_rollout_ref.rollout.name=hf")
    backend = build_rollout("hf", config=config, tokenizer=tokenizer, device="cuda", seed=0)
    draw = SamplingParams(n=4, max_tokens=12, stop_token_ids=(tokenizer.eos_token_id,), seed=3)
    batch = prompts(tokenizer)
    assert backend.shared_attention
    shared = backend.generate(batch, draw)
    backend.shared_attention = False
    repeated = backend.generate(batch, draw)
    record_property("equal_responses", f"{int((shared['responses'] == repeated['responses']).all(-1).sum())}/{len(shared)}")
    first_token_gap = (shared["rollout_log_probs"][:, 0] - repeated["rollout_log_probs"][:, 0]).abs().max().item()
    record_property("max_abs_first_log_prob_diff", first_token_gap)
    if dtype == "fp32":  # bf16 rounding may flip a draw: compare the first token's log-prob only
        assert torch.equal(shared["responses"], repeated["responses"])
        torch.testing.assert_close(shared["rollout_log_probs"], repeated["rollout_log_probs"], atol=1e-5, rtol=0)
    else:
        torch.testing.assert_close(shared["rollout_log_probs"][:, 0], repeated["rollout_log_probs"][:, 0],
                                   atol=5e-2, rtol=0)
