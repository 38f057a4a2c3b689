"""The suites: how much of each benchmark to run.

``quick`` is a smoke test of every path (about 1-2 minutes on an idle 2-core machine), including the
pooling of two trials. ``cpu`` is the measurement (about 6-7 minutes there): each comparison on the
quickstart's batch (16 prompts x n=8) in 5 trials of 4 paired rounds, each trial a fresh worker process;
the quickstart's step on 2 workers; and rollout.n = 8 ... 128 and 1 or 2 workers on 4 prompts; each
training run one warm-up and three measured steps. ``trl`` is the TRL comparison
(`benchmarks.trl`; about 8 minutes there): 4 interleaved rounds of TRL and maxrl on 1 and 2 workers,
each run one warm-up and three measured steps, and the variable-length passes in 5 paired rounds;
``trl-quick`` is its smoke test. ``trl-real`` is the same comparison on the real SmolLM2-135M-Instruct
(`benchmarks.trl.smollm2`; 4 rounds, one warm-up and two measured steps per run), ``trl-real-quick`` its
smoke test (1 round, 1 step per run, 2 prompts x 4 samples x 16 tokens: the real model's path, no
measurement).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmarks.workspace import RunShape

__all__ = ["SUITES", "Suite", "TrlSettings"]

DEFAULT_SECTIONS = ("end_to_end", "scaling", "components", "vllm")


@dataclass(frozen=True)
class TrlSettings:
    """How much of the TRL comparison (`benchmarks.trl`) and the variable-length passes to run."""

    rounds: int  # interleaved rounds, each one fresh run of every layout
    warmup_steps: int
    measured_steps: int
    worker_layouts: tuple[int, ...] = (1, 2)  # maxrl with its defaults on this many workers
    variable_repeats: int = 5  # paired rounds of the variable-length comparison
    variable_warmup: int = 1
    workload: str = "toy"  # of `benchmarks.trl.workloads.WORKLOADS` (the variable-length passes: always toy)


@dataclass(frozen=True)
class Suite:
    name: str
    trials: int  # independent trials per comparison, each with a fresh worker process
    repeats: int  # paired rounds per comparison and trial
    warmup: int  # untimed rounds before them, in every trial
    component_shape: RunShape  # batch of the rollout / log-prob / update comparisons (one worker)
    training_shape: RunShape  # the end-to-end step
    scaling_shape: RunShape  # the sweeps vary its n and workers
    warmup_steps: int
    measured_steps: int
    n_values: tuple[int, ...]  # rollout.n sweep, on scaling_shape.workers workers
    worker_values: tuple[int, ...]  # worker sweep, at rollout.n = scaling_shape.n
    sections: tuple[str, ...] = DEFAULT_SECTIONS  # run by default (``--only`` picks some)
    trl: TrlSettings | None = None  # the ``trl`` and ``variable_length`` sections' settings


SUITES = {
    "quick": Suite(
        name="quick",
        trials=2,
        repeats=2,
        warmup=1,
        component_shape=RunShape(n=4, prompts=4, response_length=16),
        training_shape=RunShape(n=8, workers=2, prompts=4, response_length=16, ignore_eos=True),
        scaling_shape=RunShape(n=8, workers=2, prompts=2, response_length=16, ignore_eos=True),
        warmup_steps=1,
        measured_steps=1,
        n_values=(8, 16),
        worker_values=(1, 2),
    ),
    "cpu": Suite(
        name="cpu",
        trials=5,
        repeats=4,
        warmup=1,
        component_shape=RunShape(n=8, prompts=16, response_length=32),
        training_shape=RunShape(n=8, workers=2, prompts=16, response_length=32, ignore_eos=True),
        scaling_shape=RunShape(n=32, workers=2, prompts=4, response_length=32, ignore_eos=True),
        warmup_steps=1,
        measured_steps=3,
        n_values=(8, 16, 32, 64, 128),
        worker_values=(1, 2),
    ),
}
"""Suites by name (``--suite``)."""
SUITES["trl"] = replace(SUITES["cpu"], name="trl", sections=("trl", "variable_length"),
                        trl=TrlSettings(rounds=4, warmup_steps=1, measured_steps=3))
SUITES["trl-quick"] = replace(SUITES["quick"], name="trl-quick", sections=("trl", "variable_length"),
                              trl=TrlSettings(rounds=1, warmup_steps=0, measured_steps=1, variable_repeats=1))
SUITES["trl-real"] = replace(SUITES["trl"], name="trl-real", sections=("trl",),
                             trl=TrlSettings(rounds=4, warmup_steps=1, measured_steps=2, workload="smollm2"))
SUITES["trl-real-quick"] = replace(SUITES["trl-real"], name="trl-real-quick", trl=TrlSettings(
    rounds=1, warmup_steps=0, measured_steps=1, workload="smollm2-smoke"))
