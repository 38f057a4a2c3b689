"""Exact pass@k of a classifier against a direct float64 computation, and the meter's averaging."""

import math

import pytest
import torch

from maxrl.tasks.vision.metrics import (
    DEFAULT_PASS_KS,
    ClassificationMeter,
    exact_pass_at_k,
    log_fail_probability,
    powers_of_two_up_to,
)


def direct_pass_at_k(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    p_true = torch.softmax(logits.double(), dim=1).gather(1, labels[:, None]).squeeze(1)
    return 1 - (1 - p_true) ** k


def test_powers_of_two():
    assert DEFAULT_PASS_KS == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    assert powers_of_two_up_to(1024) == DEFAULT_PASS_KS
    assert powers_of_two_up_to(1000) == DEFAULT_PASS_KS[:-1]
    with pytest.raises(ValueError):
        powers_of_two_up_to(0)


def test_exact_pass_at_k_matches_direct_computation():
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(64, 7, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 7, (64,), generator=generator)
    got = exact_pass_at_k(logits, labels, DEFAULT_PASS_KS)
    for column, k in enumerate(DEFAULT_PASS_KS):
        torch.testing.assert_close(got[:, column], direct_pass_at_k(logits, labels, k), rtol=1e-12, atol=1e-12)


def test_pass_at_k_is_stable_where_the_direct_formula_fails():
    # p_y = 1 - 1e-20: the direct formula rounds 1 - p_y to 0 in float32; log(1 - p_y) = -20 log 10 exactly.
    logits = torch.tensor([[0.0, -20 * math.log(10)]])
    log_fail = log_fail_probability(logits, torch.tensor([0]))
    assert log_fail.item() == pytest.approx(-20 * math.log(10), rel=1e-6)
    # p_y = 1e-6 and k = 1024: pass@k ~ 1024e-6, where 1 - (1 - p)^k in float32 has only ~2 correct digits.
    tiny = torch.tensor([[math.log(1e-6), math.log(1 - 1e-6)]])
    expected = -math.expm1(1024 * math.log1p(-1e-6))
    assert exact_pass_at_k(tiny, torch.tensor([0]), [1024]).item() == pytest.approx(expected, rel=1e-5)


def test_uniform_policy_has_pass_rate_one_over_classes():
    logits = torch.zeros(5, 1000)
    pass1 = exact_pass_at_k(logits, torch.arange(5), [1, 1024])
    torch.testing.assert_close(pass1[:, 0], torch.full((5,), 1e-3, dtype=torch.float64), rtol=1e-12, atol=0)
    expected = torch.full((5,), 1 - 0.999**1024, dtype=torch.float64)
    torch.testing.assert_close(pass1[:, 1], expected, rtol=1e-12, atol=0)


def test_meter_averages_over_batches():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(30, 4, generator=generator)
    labels = torch.randint(0, 4, (30,), generator=generator)
    meter = ClassificationMeter(ks=(1, 8))
    for start in (0, 7, 19):
        stop = {0: 7, 7: 19, 19: 30}[start]
        meter.update(logits[start:stop], labels[start:stop])
    result = meter.compute()
    assert result["acc"] == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert result["loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-6)
    assert result["pass@8"] == pytest.approx(direct_pass_at_k(logits, labels, 8).mean().item(), rel=1e-6)
    assert result["pass@1"] == pytest.approx(direct_pass_at_k(logits, labels, 1).mean().item(), rel=1e-6)
