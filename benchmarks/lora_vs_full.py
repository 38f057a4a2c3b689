"""LoRA against a full fine-tune at equal batch: peak memory per worker process and step time.

Each mode is one fresh ``main_ppo`` run (SmolLM2-135M-Instruct, reasoning-gym math prompts, 2 FSDP2
workers on gloo, hf rollout, a KL loss so the full fine-tune keeps its reference copy) whose process tree
is sampled for peak resident memory (``benchmarks.process_tree``); step times are the medians of
``timing_s/*`` over the steps after the first. Modes run one after the other, never together.

    python -m benchmarks.lora_vs_full --model outputs/models/SmolLM2-135M-Instruct --out outputs/lora_bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.process_tree import MIB, ProcessTreeMemory
from maxrl.trainer.tracking import read_metrics

MODES = {"full": [], "lora": ["actor_rollout_ref.model.lora_rank=16", "actor_rollout_ref.model.lora_alpha=32"]}
PHASES = ("step", "gen", "ref", "update_actor")


def prepare_data(out: Path) -> Path:
    data = out / "data"
    if not (data / "train.parquet").is_file():
        subprocess.run([sys.executable, "examples/maxrl_data_preprocess/reasoning_gym_math.py", "--local_dir",
                        str(data), "--train_size", "64", "--test_size", "8", "--seed", "42"], check=True)
    return data


def overrides(model: Path, data: Path, run_dir: Path, steps: int) -> list[str]:
    return [
        f"data.train_files={data / 'train.parquet'}", "data.val_files=null",
        "data.train_batch_size=2", "data.max_prompt_length=320", "data.max_response_length=32",
        "data.filter_overlong_prompts=True",
        f"actor_rollout_ref.model.path={model}",
        "actor_rollout_ref.actor.dtype=fp32", "actor_rollout_ref.rollout.dtype=fp32",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
        "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.optim.lr=1e-5",
        "actor_rollout_ref.rollout.n=4", "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2",
        "+reward_model.reward_kwargs.num_processes=1",
        "trainer.device=cpu", "trainer.n_gpus_per_node=2", "trainer.logger=[file]",
        "trainer.val_before_train=False", f"trainer.total_training_steps={steps}", "trainer.save_freq=-1",
        f"trainer.default_local_dir={run_dir}", "ray_init.num_cpus=3",
    ]


def measure(mode: str, model: Path, data: Path, out: Path, steps: int) -> dict:
    run_dir = out / f"run_{mode}"
    command = [sys.executable, "-m", "maxrl.trainer.main_ppo", *overrides(model, data, run_dir, steps), *MODES[mode]]
    process = subprocess.Popen(command)
    with ProcessTreeMemory(root_pid=process.pid) as memory:
        if process.wait() != 0:
            raise RuntimeError(f"{mode}: main_ppo exited with {process.returncode}")
    rows = [row for row in read_metrics(run_dir) if row["step"] > 1]
    workers = [peak.peak_bytes / MIB for peak in memory.peaks() if peak.role == "worker"]
    return {
        "mode": mode,
        "worker_peak_mib": [round(value) for value in workers],
        **{f"{phase}_s": round(statistics.median(row.get(f"timing_s/{phase}", 0.0) for row in rows), 2)
           for phase in PHASES},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("outputs/lora_bench"))
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    data = prepare_data(args.out)
    results = [measure(mode, args.model, data, args.out, args.steps) for mode in MODES]
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print("| mode | peak memory per worker (MiB) | step (s) | generation (s) | reference (s) | update (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in results:
        print(f"| {row['mode']} | {', '.join(map(str, row['worker_peak_mib']))} | {row['step_s']} | {row['gen_s']} "
              f"| {row['ref_s']} | {row['update_actor_s']} |")


if __name__ == "__main__":
    main()
