"""AdamW settings and the learning-rate schedule (linear warmup, then constant or cosine)."""

import math

import pytest
import torch

from maxrl.config import compose_config
from maxrl.workers.optim import build_lr_scheduler, build_optimizer, warmup_steps

OPTIM = "actor_rollout_ref.actor.optim"
ADDED = {"lr_scheduler_type"}  # not in the YAML: added with +, as a user would


def optim_config(**overrides):
    """The composed config's actor optimizer with `overrides` (the rest are the YAML defaults)."""
    base = {"lr": 1.0, "betas": "[0.8,0.95]", "weight_decay": 0.1, "total_training_steps": 10}
    values = {**base, **overrides}
    return compose_config([
        f"{'+' if key in ADDED else ''}{OPTIM}.{key}={'null' if value is None else value}"
        for key, value in values.items()
    ]).actor_rollout_ref.actor.optim


def lrs(optim, steps):
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(1))], optim)
    scheduler = build_lr_scheduler(optimizer, optim)
    values = []
    for _ in range(steps):
        values.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return optimizer, values


def test_adamw_hyperparameters_come_from_the_config():
    optimizer, _ = lrs(optim_config(), 1)
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert (group["betas"], group["weight_decay"]) == ((0.8, 0.95), 0.1)


def test_warmup_steps_prefer_the_explicit_count_then_the_ratio():
    assert warmup_steps(optim_config(lr_warmup_steps=3, lr_warmup_steps_ratio=0.5)) == 3
    assert warmup_steps(optim_config(lr_warmup_steps_ratio=0.25)) == 2
    assert warmup_steps(optim_config()) == 0


def test_constant_schedule_after_linear_warmup():
    _, values = lrs(optim_config(lr_warmup_steps=4), 7)
    assert values == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_cosine_schedule_decays_to_the_floor():
    _, values = lrs(optim_config(warmup_style="cosine", lr_warmup_steps=2, min_lr_ratio=0.1), 10)
    assert values[:3] == pytest.approx([0.0, 0.5, 1.0])
    progress = [(step - 2) / 8 for step in range(2, 10)]
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)) for p in progress]
    assert values[2:] == pytest.approx(expected)


def test_newer_key_lr_scheduler_type_wins():
    _, values = lrs(optim_config(lr_scheduler_type="cosine", warmup_style="constant"), 3)
    assert values[2] < values[1]


def test_missing_run_length_and_unknown_style_are_explained():
    with pytest.raises(ValueError, match="total_training_steps"):
        lrs(optim_config(lr_warmup_steps_ratio=0.1, total_training_steps=-1), 1)
    with pytest.raises(ValueError, match="total_training_steps"):
        lrs(optim_config(warmup_style="cosine", total_training_steps=None), 1)
    with pytest.raises(ValueError, match="warmup_style='linear'"):
        lrs(optim_config(warmup_style="linear"), 1)


@pytest.mark.parametrize("style, warmup, total, floor", [
    ("constant", 0, 10, 0.0), ("constant", 3, 10, 0.0), ("cosine", 0, 10, 0.0), ("cosine", 2, 10, 0.1),
    ("cosine", 4, 7, 0.25), ("cosine", 3, 3, 0.0),
])
def test_schedule_equals_transformers_schedules(style, warmup, total, floor):
    """The same factors as the transformers functions maxrl used before (written here to keep their import,
    and peft's with it, out of every worker's start-up), past the end of the run included."""
    from transformers.optimization import (
        get_constant_schedule_with_warmup,
        get_cosine_with_min_lr_schedule_with_warmup,
    )

    optim = optim_config(warmup_style=style, lr_warmup_steps=warmup, total_training_steps=total, min_lr_ratio=floor)
    reference_optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = (get_constant_schedule_with_warmup(reference_optimizer, warmup) if style == "constant" else
                 get_cosine_with_min_lr_schedule_with_warmup(reference_optimizer, warmup, total, min_lr_rate=floor))
    expected = []
    for _ in range(total + 3):
        expected.append(reference.get_last_lr()[0])
        reference_optimizer.step()
        reference.step()
    assert lrs(optim, total + 3)[1] == pytest.approx(expected, rel=1e-12, abs=1e-15)
