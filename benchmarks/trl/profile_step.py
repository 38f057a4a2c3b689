"""Where one maxrl step of the TRL comparison's work spends its time, in one process.

    python -m benchmarks.trl.profile_step                      # median gen / update seconds (and the
                                                               # update's page faults) over 5 steps
    python -m benchmarks.trl.profile_step --profile update     # torch profiler table of one update
    python -m benchmarks.trl.profile_step KEY=VALUE ...        # with config overrides

The worker is the trainer's `ActorRolloutRefWorker` built in this process on a one-rank gloo world (no
Ray), so a profiler sees every operator; the work is the comparison's (`benchmarks.trl.workload`): 8
prompts of 100 tokens x 16 samples of 64 tokens, random GRPO-like advantages, one optimizer step. Use it
to find what to speed up; the figures to report come from ``python -m benchmarks.run --suite trl``, which
runs the real entry point against TRL.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist

from benchmarks.trl.inputs import build_inputs, prompt_batch
from benchmarks.trl.maxrl_side import maxrl_overrides
from maxrl.data.batch import Batch

__all__ = ["main"]


def _page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _step(worker, prompts: Batch, step: int) -> tuple[float, float, int, Batch]:
    """One generate + update; returns both phases' seconds, the update's page faults and the samples (with
    advantages)."""
    began = time.perf_counter()
    samples = worker.generate_sequences(prompts, step=step)
    generated = time.perf_counter()
    advantages = torch.randn(len(samples), 1, generator=torch.Generator().manual_seed(step)) * samples["response_mask"]
    samples = samples.union(Batch({"advantages": advantages.float()}))
    faults, updating = _page_faults(), time.perf_counter()
    worker.update_actor(samples)
    return generated - began, time.perf_counter() - updating, _page_faults() - faults, samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="measured steps after 2 warm-up steps (default 5)")
    parser.add_argument("--profile", choices=("gen", "update"), help="print the profiler table of one phase")
    parser.add_argument("--rows", type=int, default=25, help="rows of the profiler table (default 25)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from maxrl.config import compose_config
    from maxrl.controller.worker_host import default_torch_threads
    from maxrl.trainer.main_ppo import load_tokenizer, worker_config
    from maxrl.utils.cpu_process import keep_freed_memory, use_grouped_query_sdpa
    from maxrl.workers import ActorRolloutRefWorker

    with tempfile.TemporaryDirectory(prefix="maxrl_profile_") as scratch:
        inputs = build_inputs(Path(scratch))
        overrides = maxrl_overrides(inputs, 1, 1_000, Path(scratch) / "run", tuple(args.overrides))
        config = worker_config(compose_config(overrides), total_steps=1_000)
        torch.set_num_threads(config.trainer.cpu_threads_per_worker or default_torch_threads(1))
        use_grouped_query_sdpa()  # as a CPU worker host does
        if config.trainer.cpu_keep_freed_memory:
            keep_freed_memory()
        dist.init_process_group("gloo", store=dist.FileStore(str(Path(scratch) / "store"), 1), rank=0, world_size=1)
        try:
            worker = ActorRolloutRefWorker(config)
            prompts = prompt_batch(load_tokenizer(str(inputs.model_dir)))
            for step in range(2):
                _step(worker, prompts, step)
            if args.profile is None:
                steps = [_step(worker, prompts, step)[:3] for step in range(2, 2 + args.steps)]
                gen, update, faults = (statistics.median(values) for values in zip(*steps))
                sys.stdout.write(f"gen {gen:.3f} s, update {update:.3f} s, {faults:.0f} page faults per update "
                                 f"(median of {args.steps} steps, {torch.get_num_threads()} threads)\n")
                return
            from torch.profiler import ProfilerActivity, profile

            samples = _step(worker, prompts, 2)[3]
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                if args.profile == "gen":
                    worker.generate_sequences(prompts, step=3)
                else:
                    worker.update_actor(samples)
            sys.stdout.write(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows) + "\n")
        finally:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
