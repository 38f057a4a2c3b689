"""Log-probs and entropy from logits: values and gradients against float64 log_softmax references."""

import pytest
import torch

import maxrl.algorithms.logprob as logprob
from maxrl.algorithms import entropy_from_logits, log_probs_from_logits


def reference_log_probs(logits, labels, temperature):
    log_p = torch.log_softmax(logits.double() / temperature, dim=-1)
    return log_p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def reference_entropy(logits, temperature):
    log_p = torch.log_softmax(logits.double() / temperature, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(logprob, "CHUNK_ELEMENTS", 40)  # several row chunks even for tiny tensors


def make(dtype, shape=(3, 5, 17), seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=generator, dtype=torch.float64) * 3).to(dtype)
    labels = torch.randint(0, shape[-1], shape[:-1], generator=generator)
    return logits, labels


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
def test_log_probs_match_reference_and_gradcheck(temperature):
    logits, labels = make(torch.float64, shape=(2, 4, 7))
    torch.testing.assert_close(log_probs_from_logits(logits, labels, temperature),
                               reference_log_probs(logits, labels, temperature))
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: log_probs_from_logits(x, labels, temperature), (logits,))


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_entropy_matches_reference_and_gradcheck(temperature):
    logits, _ = make(torch.float64, shape=(2, 4, 7))
    torch.testing.assert_close(entropy_from_logits(logits, temperature),
                               reference_entropy(logits, temperature))
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: entropy_from_logits(x, temperature), (logits,))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_low_precision_logits_are_reduced_in_float32(dtype):
    logits, labels = make(dtype)
    out = log_probs_from_logits(logits, labels, 0.7)
    assert out.dtype == torch.float32
    # exact up to float32 arithmetic on the given (already rounded) logits
    torch.testing.assert_close(out.double(), reference_log_probs(logits, labels, 0.7), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(entropy_from_logits(logits).double(), reference_entropy(logits, 1.0),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_low_precision_gradients_match_reference(dtype):
    logits, labels = make(dtype)
    weights = torch.randn(labels.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = logits.clone().requires_grad_(True)
    ((log_probs_from_logits(ours, labels, 0.8).double() * weights).sum()
     + entropy_from_logits(ours, 0.8).double().sum()).backward()
    ref = logits.double().requires_grad_(True)
    ((reference_log_probs(ref, labels, 0.8) * weights).sum() + reference_entropy(ref, 0.8).sum()).backward()
    assert ours.grad.dtype == dtype
    tolerance = 2e-2 if dtype == torch.bfloat16 else 1e-5  # the gradient is stored in the logits' dtype
    torch.testing.assert_close(ours.grad.double(), ref.grad, rtol=tolerance, atol=tolerance)


def test_no_full_vocabulary_float32_copy_is_kept_for_backward():
    logits, labels = make(torch.bfloat16, shape=(4, 64, 50))
    logits.requires_grad_(True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        log_probs_from_logits(logits, labels, 0.7)
        entropy_from_logits(logits, 0.7)
    full_size_fp32 = [t for t in saved if t.dtype != torch.bfloat16 and t.numel() >= logits.numel()]
    assert saved and not full_size_fp32


def test_non_contiguous_logits_and_shape_errors():
    logits, labels = make(torch.float64, shape=(2, 6, 11))
    sliced = logits[:, 1:-1]  # as when dropping the prompt/last position
    torch.testing.assert_close(log_probs_from_logits(sliced, labels[:, 1:-1]),
                               reference_log_probs(sliced, labels[:, 1:-1], 1.0))
    with pytest.raises(ValueError, match="labels shape"):
        log_probs_from_logits(logits, labels[:, :-1])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        log_probs_from_logits(logits, labels, 0.0)
