"""Each objective's loss gradient on a tiny linear classifier equals the estimator it stands for.

Three levels of evidence:
1. for one fixed draw of labels, the loss gradient equals -1/(BN) sum_i A_i grad log pi(a_i | x) with A_i from an
   independent re-derivation of each estimator (this checks the label aggregation and the scale);
2. the exact expectation over all draws (enumerated as multinomial count vectors on a 3-class problem) equals
   the gradient each estimator is unbiased for, e.g. MaxRL with N samples -> grad J^(N-1) = (1-(1-p)^(N-1))/p grad p;
3. MaxRL's expected gradient approaches the exact maximum-likelihood gradient grad log p_y as N grows (relative
   gap exactly (1-p)^(N-1)), REINFORCE's stays p grad log p; a Monte-Carlo run of the real sampler agrees.
"""

import itertools
import math

import pytest
import torch

from maxrl.tasks.vision.estimators import register_estimators
from maxrl.tasks.vision.objectives import (
    PAPER_OBJECTIVES,
    check_objective,
    known_objectives,
    label_advantage_weights,
    objective_loss,
    policy_gradient_loss,
)

X = torch.tensor([[0.7, -1.2]], dtype=torch.float64)  # one image, two features
W0 = torch.tensor([[0.3, -0.5, 1.1], [-0.4, 0.9, 0.2]], dtype=torch.float64)  # 3 classes
LABEL = 1  # p_y ~ 0.06: a hard example
EPS = 1e-6  # the estimators' epsilon (maxrl, grpo)


@pytest.fixture(scope="module", autouse=True)
def vision_estimators():
    """The task's REINFORCE variants, registered as its entry point (`build_config`) does."""
    register_estimators()


@pytest.fixture(autouse=True)
def float64_rewards():
    """Rewards and advantages take torch's default dtype: float64 here, so gradients compare to 1e-9."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def logits_of(weights: torch.Tensor, inputs: torch.Tensor = X) -> torch.Tensor:
    return inputs @ weights


def grad_wrt_weights(scalar_fn) -> torch.Tensor:
    weights = W0.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(scalar_fn(weights), weights)
    return gradient


def true_class_probability() -> float:
    return torch.softmax(logits_of(W0), dim=1)[0, LABEL].item()


GRAD_P = grad_wrt_weights(lambda w: torch.softmax(logits_of(w), dim=1)[0, LABEL])
GRAD_LOG_P = grad_wrt_weights(lambda w: torch.log_softmax(logits_of(w), dim=1)[0, LABEL])


def grad_truncated_ml(order: int) -> torch.Tensor:
    """grad J^(T) = (1 - (1-p)^T)/p grad p; order 0 means the zero vector."""
    p = true_class_probability()
    return (1 - (1 - p) ** order) / p * GRAD_P


# ----------------------------------------------------------------------------------------------------------
# 1. Fixed draw: the loss gradient is the estimator, sample by sample
# ----------------------------------------------------------------------------------------------------------


def reference_advantages(name: str, rewards: torch.Tensor, truncate_order: int = 3, pass_k: int = 2):
    """Independent per-group formulas (docs/algorithms.md, Advantage estimators), rows = images, columns = the N samples."""
    n = rewards.shape[1]
    mean = rewards.mean(dim=1, keepdim=True)
    successes = rewards.sum(dim=1, keepdim=True)
    failures = n - successes
    if name == "maxrl":
        return torch.where(mean > 0, (rewards - mean) / (mean + EPS), torch.zeros_like(rewards))
    if name == "grpo":
        return (rewards - mean) / (rewards.std(dim=1, keepdim=True) + EPS)
    if name == "rloo":
        return n / (n - 1) * (rewards - mean)
    if name == "reinforce_with_baseline":
        return rewards - mean
    if name == "reinforce":
        return rewards
    if name == "maclaurin":  # N x the U-statistic weights: success 1, failure -sum_k C(F-1,k-1)/C(N-1,k-1)
        failure = torch.tensor([
            -sum(math.comb(int(f) - 1, k - 1) / math.comb(n - 1, k - 1) for k in range(2, min(truncate_order, n) + 1))
            if f > 0 else 0.0  # no failure to weight
            for f in failures.flatten()
        ])[:, None]
        return torch.where(rewards > 0, torch.ones_like(rewards), failure.expand_as(rewards))
    if name == "pkpo":  # success rho = C(N-K, k-1)/C(N-1, k-1), then leave-one-out
        rho = torch.tensor([math.comb(n - int(k), pass_k - 1) / math.comb(n - 1, pass_k - 1) for k in successes.flatten()])
        raw = rewards * rho[:, None]
        return (n * raw - raw.sum(dim=1, keepdim=True)) / (n - 1)
    raise AssertionError(name)


@pytest.mark.parametrize("name", [name for name in PAPER_OBJECTIVES if name != "cross_entropy"])
def test_fixed_draw_gradient_is_the_estimator(name):
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(4, 2, generator=generator)
    labels = torch.tensor([0, 2, 1, 0])
    actions = torch.tensor([[0, 1, 0, 2, 2, 1], [2, 2, 2, 2, 2, 2], [0, 0, 2, 0, 2, 0], [1, 1, 2, 1, 2, 1]])
    batch, n = actions.shape
    rewards = (actions == labels[:, None]).double()
    knobs = {"truncate_order": 3, "pass_k": 2}
    weights, _ = label_advantage_weights(actions, labels, 3, name, **knobs)
    got = grad_wrt_weights(lambda w: policy_gradient_loss(logits_of(w, inputs), weights, n))
    advantages = reference_advantages(name, rewards, **knobs)
    expected = grad_wrt_weights(
        lambda w: -(advantages * torch.log_softmax(logits_of(w, inputs), 1).gather(1, actions)).sum() / (batch * n)
    )
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


def test_cross_entropy_gradient_is_the_exact_likelihood_gradient():
    loss_grad = grad_wrt_weights(
        lambda w: objective_loss("cross_entropy", logits_of(w), torch.tensor([LABEL]), num_rollouts=1)[0]
    )
    torch.testing.assert_close(-loss_grad, GRAD_LOG_P, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------------------------------------
# 2. Exact expectations by enumerating every draw of N labels (as count vectors)
# ----------------------------------------------------------------------------------------------------------


def count_vectors(n: int, classes: int):
    for cuts in itertools.combinations(range(n + classes - 1), classes - 1):
        bounds = (-1, *cuts, n + classes - 1)
        yield tuple(bounds[i + 1] - bounds[i] - 1 for i in range(classes))


def expected_ascent_direction(name: str, n: int, **knobs) -> torch.Tensor:
    """E over draws of -grad loss, computed exactly: one row per count vector, weighted by its probability."""
    probs = torch.softmax(logits_of(W0), dim=1)[0]
    vectors = list(count_vectors(n, 3))
    actions = torch.stack([torch.repeat_interleave(torch.arange(3), torch.tensor(v)) for v in vectors])
    log_multinomial = torch.tensor([
        math.lgamma(n + 1) - sum(math.lgamma(c + 1) for c in v) + sum(c * math.log(probs[i]) for i, c in enumerate(v))
        for v in vectors
    ])
    labels = torch.full((len(vectors),), LABEL)
    weights, _ = label_advantage_weights(actions, labels, 3, name, **knobs)
    # policy_gradient_loss averages over rows; weighting row b by P_b * B turns the average into E[.].
    weighted = weights * log_multinomial.exp()[:, None] * len(vectors)
    inputs = X.expand(len(vectors), -1)
    return -grad_wrt_weights(lambda w: policy_gradient_loss(logits_of(w, inputs), weighted, n))


@pytest.mark.parametrize(
    ("name", "n", "knobs", "target"),
    [
        ("maxrl", 4, {}, lambda: grad_truncated_ml(3)),  # the all-fail group drops the control variate: J^(N-1)
        ("maxrl", 2, {}, lambda: grad_truncated_ml(1)),
        ("reinforce", 4, {}, lambda: GRAD_P),
        ("rloo", 4, {}, lambda: GRAD_P),
        ("pkpo", 4, {"pass_k": 1}, lambda: GRAD_P),  # k = 1 is RLOO
        ("reinforce_with_baseline", 4, {}, lambda: (1 - 1 / 4) * GRAD_P),
        ("maclaurin", 5, {"truncate_order": 2}, lambda: grad_truncated_ml(2)),
        ("maclaurin", 4, {"truncate_order": 16}, lambda: grad_truncated_ml(4)),  # effective order min(T, N)
        ("cross_fitted_maclaurin", 5, {"truncate_order": 3}, lambda: grad_truncated_ml(3)),
        ("oversample_subset_vr", 5, {"truncate_order": 3}, lambda: grad_truncated_ml(3)),
        ("vr_cond", 4, {}, lambda: grad_truncated_ml(4)),
    ],
)
def test_expected_gradient_equals_the_estimators_target(name, n, knobs, target):
    tolerance = 1e-5 if name == "maxrl" else 1e-10  # maxrl divides by r-bar + 1e-6
    torch.testing.assert_close(expected_ascent_direction(name, n, **knobs), target(), rtol=tolerance, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------
# 3. MaxRL approaches maximum likelihood as N grows; REINFORCE does not
# ----------------------------------------------------------------------------------------------------------


def test_maxrl_approaches_the_likelihood_gradient_as_rollouts_grow():
    p = true_class_probability()
    assert p < 0.2  # a hard example, where the choice of objective matters
    gaps = {}
    for n in (4, 16, 64):
        direction = expected_ascent_direction("maxrl", n)
        gaps[n] = ((direction - GRAD_LOG_P).norm() / GRAD_LOG_P.norm()).item()
        # exact up to maxrl's epsilon: 1e-6 / r-bar shifts the gap by ~1e-6 * N at most
        assert gaps[n] == pytest.approx((1 - p) ** (n - 1), abs=1e-4)
    assert gaps[4] > gaps[16] > gaps[64] and gaps[64] < 0.02
    reinforce_gap = ((expected_ascent_direction("reinforce_with_baseline", 64) - GRAD_LOG_P).norm() / GRAD_LOG_P.norm())
    assert reinforce_gap.item() > 0.8  # E = (1 - 1/N) p grad log p: most of the likelihood gradient is missing


def test_sampled_maxrl_gradient_matches_its_expectation():
    n = 20000
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(11)
    loss_grad = grad_wrt_weights(
        lambda w: objective_loss("maxrl", logits_of(w), torch.tensor([LABEL]), num_rollouts=n, generator=generator)[0]
    )
    # For N this large grad J^(N-1) = grad log p up to (1-p)^N ~ 0; the Monte-Carlo error is ~ 1/sqrt(N p).
    relative_error = ((-loss_grad - GRAD_LOG_P).norm() / GRAD_LOG_P.norm()).item()
    assert relative_error < 0.05


# ----------------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------------


def test_every_paper_objective_is_available():
    assert set(PAPER_OBJECTIVES) <= set(known_objectives())


def test_objectives_that_cannot_run_are_rejected_up_front():
    with pytest.raises(ValueError, match="num_rollouts >= 2"):
        check_objective("maxrl", 1)
    with pytest.raises(ValueError, match="values"):
        check_objective("gae", 8)
    with pytest.raises(ValueError, match="not one of"):
        check_objective("maxrl_typo", 8)
    with pytest.raises(ValueError, match="pass_k"):
        check_objective("pkpo", 8, pass_k=16)
    check_objective("reinforce", 1)
    check_objective("pkpo", 16, pass_k=16)
