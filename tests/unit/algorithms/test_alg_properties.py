"""Property tests: row order, padding and micro-batching must not change the math."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maxrl.algorithms import LOSS_AGG_MODES, agg_loss, compute_advantage, compute_policy_loss, loss_normalizer

ESTIMATORS = [
    ("maxrl", {}), ("vr_cond", {}), ("maclaurin", {"truncate_order": 3}),
    ("cross_fitted_maclaurin", {"truncate_order": 3}), ("oversample_subset_vr", {"truncate_order": 3}),
    ("pkpo", {"pass_k": 2}), ("grpo", {}), ("grpo", {"norm_adv_by_std_in_grpo": False}), ("rloo", {}),
    ("opo", {}), ("reinforce_plus_plus_baseline", {}), ("grpo_passk", {}),
    ("reinforce_plus_plus", {"gamma": 0.9}), ("remax", {}), ("gae", {"gamma": 0.9, "lam": 0.8}),
]
GARBAGE = 3.0  # written on padded positions; must never reach an advantage
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def grouped_batches(draw):
    """Groups of unequal size (2..6), rows in a random order, responses of random length."""
    sizes = draw(st.lists(st.integers(2, 6), min_size=1, max_size=4))
    ids = [f"prompt-{g}" for g, size in enumerate(sizes) for _ in range(size)]
    rows, width = len(ids), draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, width), min_size=rows, max_size=rows))
    scores = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=rows, max_size=rows))
    values = draw(st.lists(st.floats(-1, 1), min_size=rows * width, max_size=rows * width))
    order = draw(st.permutations(range(rows)))
    rewards = torch.full((rows, width), GARBAGE, dtype=torch.float64)
    mask = torch.zeros(rows, width, dtype=torch.float64)
    for i, (length, score) in enumerate(zip(lengths, scores)):
        rewards[i, :length] = 0.0
        rewards[i, length - 1] = score
        mask[i, :length] = 1.0
    extras = {"values": torch.tensor(values, dtype=torch.float64).reshape(rows, width),
              "reward_baselines": torch.tensor(scores[::-1], dtype=torch.float64)}
    perm = torch.tensor(order)
    # Interleave: the permuted batch is what the estimator sees; ids travel with their rows.
    return rewards[perm], mask[perm], [ids[i] for i in order], {k: v[perm] for k, v in extras.items()}


def _advantages(name, knobs, rewards, mask, ids, extras):
    return compute_advantage(name, rewards, mask, ids, **extras, **knobs)


@SETTINGS
@given(batch=grouped_batches(), data=st.data())
def test_shuffling_rows_shuffles_advantages_identically(batch, data):
    rewards, mask, ids, extras = batch
    perm = torch.tensor(data.draw(st.permutations(range(len(ids)))))
    shuffled_batch = (rewards[perm], mask[perm], [ids[i] for i in perm.tolist()],
                      {k: v[perm] for k, v in extras.items()})
    for name, knobs in ESTIMATORS:
        adv, returns = _advantages(name, knobs, rewards, mask, ids, extras)
        shuffled_adv, shuffled_returns = _advantages(name, knobs, *shuffled_batch)
        torch.testing.assert_close(shuffled_adv, adv[perm], rtol=0, atol=1e-12, msg=name)
        torch.testing.assert_close(shuffled_returns, returns[perm], rtol=0, atol=1e-12, msg=name)


@SETTINGS
@given(batch=grouped_batches(), extra_width=st.integers(1, 3))
def test_padding_beyond_the_mask_changes_nothing(batch, extra_width):
    rewards, mask, ids, extras = batch
    rows, width = rewards.shape
    pad = torch.full((rows, extra_width), GARBAGE, dtype=torch.float64)
    padded_batch = (torch.cat([rewards, pad], 1), torch.cat([mask, torch.zeros_like(pad)], 1), ids,
                    dict(extras, values=torch.cat([extras["values"], -pad], dim=1)))
    for name, knobs in ESTIMATORS:
        adv, returns = _advantages(name, knobs, rewards, mask, ids, extras)
        padded_adv, padded_returns = _advantages(name, knobs, *padded_batch)
        torch.testing.assert_close(padded_adv[:, :width], adv, rtol=0, atol=1e-12, msg=name)
        torch.testing.assert_close(padded_returns[:, :width], returns, rtol=0, atol=1e-12, msg=name)
        assert torch.all(padded_adv[:, width:] == 0) and torch.all(padded_returns[:, width:] == 0), name
        assert torch.all(adv[mask == 0] == 0), name


@st.composite
def micro_batched_losses(draw):
    rows, width = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    lengths = draw(st.lists(st.integers(0, width), min_size=rows, max_size=rows))  # 0 = a fully padded row
    losses = draw(st.lists(st.floats(-10, 10), min_size=rows * width, max_size=rows * width))
    order = torch.tensor(draw(st.permutations(range(rows))))
    cuts = sorted(draw(st.lists(st.integers(1, max(rows - 1, 1)), max_size=3, unique=True)))
    mask = (torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)).to(torch.float64)
    loss_mat = torch.tensor(losses, dtype=torch.float64).reshape(rows, width)
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, rows]) if b > a]
    return loss_mat, mask, order, sizes


@settings(max_examples=50, deadline=None)
@given(batch=micro_batched_losses())
def test_micro_batches_with_the_global_normaliser_sum_to_the_whole(batch):
    loss_mat, mask, order, sizes = batch
    micro_losses, micro_masks = loss_mat[order].split(sizes), mask[order].split(sizes)
    for mode in LOSS_AGG_MODES:
        normaliser = loss_normalizer(mask, mode)
        assert sum(loss_normalizer(m, mode) for m in micro_masks) == normaliser
        total = sum(agg_loss(lm, m, mode, normaliser) for lm, m in zip(micro_losses, micro_masks))
        torch.testing.assert_close(total, agg_loss(loss_mat, mask, mode), rtol=1e-12, atol=1e-12, msg=mode)


@settings(max_examples=25, deadline=None)
@given(batch=micro_batched_losses(), data=st.data())
def test_policy_loss_over_micro_batches_equals_whole_batch(batch, data):
    _, mask, order, sizes = batch
    rows, width = mask.shape
    floats = st.lists(st.floats(-0.5, 0.5), min_size=rows * width, max_size=rows * width)
    old = torch.tensor(data.draw(floats), dtype=torch.float64).reshape(rows, width)
    new = old + torch.tensor(data.draw(floats), dtype=torch.float64).reshape(rows, width)
    adv = torch.tensor(data.draw(floats), dtype=torch.float64).reshape(rows, width) * 4
    micro = list(zip(*(t[order].split(sizes) for t in (old, new, adv, mask))))
    for loss_mode in ("vanilla", "gspo"):
        for mode in LOSS_AGG_MODES:
            whole, _ = compute_policy_loss(loss_mode, old, new, adv, mask, mode)
            normaliser = loss_normalizer(mask, mode)
            total = sum(compute_policy_loss(loss_mode, o, n, a, m, mode, normaliser)[0]
                        for o, n, a, m in micro)
            torch.testing.assert_close(total, whole, rtol=1e-12, atol=1e-12, msg=f"{loss_mode} {mode}")
