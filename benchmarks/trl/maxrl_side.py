"""The maxrl side: ``python -m maxrl.trainer.main_ppo`` with the workload's Hydra overrides, as a subprocess.

A fresh process per run, like the TRL side, so that both start-ups include imports and both memory
figures cover exactly one run's processes (the trainer, Ray's daemons, the workers, the reward process).
"Defaults" means that none of the step-speed switches is passed (``use_remove_padding``,
``share_prompt_prefix``, ``use_dynamic_bsz`` and its token budgets, ``trainer.cpu_threads_per_worker``);
`PADDED` lists the overrides that turn the first three off, for a padded baseline. The steps are read
back from the run's metrics file through `benchmarks.end_to_end.TrainingRun`, like the suite's other
training runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.end_to_end import TrainingRun, step_cpu_seconds
from benchmarks.process_tree import CpuAtLineAppends
from benchmarks.trl.inputs import ComparisonInputs
from benchmarks.trl.runs import FrameworkRun, run_process
from benchmarks.workspace import RunShape

__all__ = ["PADDED", "maxrl_overrides", "run_maxrl"]

PADDED = (
    "actor_rollout_ref.model.use_remove_padding=false",
    "actor_rollout_ref.model.share_prompt_prefix=false",
    "actor_rollout_ref.actor.use_dynamic_bsz=false",
)
"""Every forward over the full padded rectangle, fixed-size micro-batches."""


def maxrl_overrides(inputs: ComparisonInputs, workers: int, steps: int, run_dir: Path,
                    extra: tuple[str, ...] = (), response_length: int | None = None) -> list[str]:
    """The inputs' workload in maxrl's config: GRPO advantages (as TRL's default), no KL term (so no
    reference model), every sample to exactly `response_length` tokens (default: the workload's;
    ``ignore_eos``), one optimizer step per batch, fp32, the workload's scorer in one reward process, no
    validation, checkpoints or console output. `extra` comes last, so it can override any of these."""
    work = inputs.workload
    batch = work.prompts_per_step
    return [
        f"data.train_files={inputs.train_file}",
        "data.val_files=null",
        f"data.train_batch_size={batch}",
        f"data.max_prompt_length={work.max_prompt_tokens}",
        f"data.max_response_length={response_length or work.response_tokens}",
        f"data.apply_chat_template={work.chat_template}",
        f"actor_rollout_ref.model.path={inputs.model_dir}",
        "actor_rollout_ref.actor.dtype=fp32",
        f"actor_rollout_ref.actor.optim.lr={work.learning_rate}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={batch}",
        "actor_rollout_ref.actor.use_kl_loss=false",
        "actor_rollout_ref.rollout.name=hf",
        "actor_rollout_ref.rollout.dtype=fp32",
        f"actor_rollout_ref.rollout.n={work.samples_per_prompt}",
        f"actor_rollout_ref.rollout.temperature={work.temperature}",
        "actor_rollout_ref.rollout.ignore_eos=True",
        "algorithm.adv_estimator=grpo",
        "algorithm.use_kl_in_reward=false",
        f"custom_reward_function.path={inputs.reward_file}",
        "custom_reward_function.name=compute_score",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.device=cpu",
        "trainer.nnodes=1",
        f"trainer.n_gpus_per_node={workers}",
        "trainer.logger=[file]",
        f"trainer.total_training_steps={steps}",
        "trainer.val_before_train=False",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        f"trainer.default_local_dir={run_dir}",
        *extra,
    ]


def _layout(workers: int) -> str:
    return f"maxrl {workers} worker{'s' if workers > 1 else ''}"


def run_maxrl(inputs: ComparisonInputs, workers: int, run_dir: Path, warmup_steps: int, measured_steps: int,
              extra: tuple[str, ...] = ()) -> FrameworkRun:
    """One maxrl run of ``warmup_steps + measured_steps`` steps on `workers` worker processes."""
    from maxrl.trainer.tracking import METRICS_FILE, read_metrics

    steps = warmup_steps + measured_steps
    command = [sys.executable, "-m", "maxrl.trainer.main_ppo",
               *maxrl_overrides(inputs, workers, steps, run_dir, extra)]
    lines = CpuAtLineAppends(run_dir / METRICS_FILE)
    spawned, memory = run_process(command, run_dir.with_suffix(".log"), watch=lines)
    rows = read_metrics(run_dir)
    if [row["step"] for row in rows] != list(range(1, steps + 1)) or not lines.seen_at:
        raise RuntimeError(f"run {run_dir} logged steps {[row['step'] for row in rows]}, expected 1..{steps}")
    work = inputs.workload
    shape = RunShape(n=work.samples_per_prompt, workers=workers, prompts=work.prompts_per_step,
                     response_length=work.response_tokens, ignore_eos=True, steps=steps)
    all_step_s = [row["timing_s/step"] for row in rows]
    startup_s = lines.seen_at[0] - spawned - all_step_s[0]  # spawn to the start of step 1, as on the TRL side
    training = TrainingRun(shape, warmup_steps, startup_s + sum(all_step_s), all_step_s, rows[warmup_steps:],
                           memory, step_cpu_seconds(lines.readings, warmup_steps, steps))
    step_s = [row["timing_s/step"] for row in training.measured]
    gen = [row["timing_s/gen"] for row in training.measured]
    update = [row["timing_s/update_actor"] for row in training.measured]
    return FrameworkRun(
        layout=_layout(workers),
        step_s=step_s,
        phases={"gen": gen, "update": update, "other": [s - g - u for s, g, u in zip(step_s, gen, update)]},
        startup_s=training.startup_s,
        memory=memory,
        details={"workers": workers, "overrides": list(extra), "timing_s": {
            name: summary.median for name, summary in training.phases().items()},
            "tokens_per_step": training.metric("perf/total_num_tokens"),
            "step_cpu_s": None if training.cpu() is None else training.cpu().median},
    )
