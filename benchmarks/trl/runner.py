"""TRL's GRPOTrainer on a comparison workload, timed step by step; run inside ``.venv-trl``:

    .venv-trl/bin/python -m benchmarks.trl.runner --model-dir DIR --workload FILE.json --out FILE.json --steps 4

The workload file (`benchmarks.trl.spec`) gives the shape, the dataset rows and the module whose
``trl_reward`` scores them. The runner imports only TRL, its dependencies and the standard-library
modules of `benchmarks.trl` (never maxrl). The settings are TRL's fastest on CPU for this work: gradient
checkpointing off, fp32, one micro-batch of all the step's samples (``per_device_train_batch_size`` = all
of them, ``gradient_accumulation_steps=1``, ``steps_per_generation=1``, ``num_iterations=1``: one
generation batch per optimizer step, and so no old-log-prob pass), no reference model (``beta=0``), no
logging or saving. ``min_new_tokens`` makes every completion exactly the workload's length (eos is masked
until then, as maxrl's ``rollout.ignore_eos`` keeps sampling past it); the runner checks the count of
every generation and fails otherwise.

Per step it records the wall time (from one ``on_step_end`` to the next; the first from its
``on_step_begin``), the time in ``_generate_single_turn`` (the sampling call: ``model.generate``), and
the time in ``_generate_and_score_completions`` (sampling, decoding, rewards, advantages); the rest of
the step is the update (forward, backward, optimizer step). These are private TRL methods of 1.16,
wrapped on the trainer instance; the runner fails if they are gone.
"""

from __future__ import annotations

import time

PROCESS_START_UNIX = time.time()  # before the heavy imports, which count to start-up

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.trl.spec import Workload, read_workload_file  # noqa: E402

WRAPPED = {"_generate_single_turn": "gen_s", "_generate_and_score_completions": "generate_and_score_s"}
"""TRL methods timed on the trainer instance -> the phase they are summed into."""


class PhaseClock:
    """Sums the wall time spent in wrapped methods per phase, and checks each generation's size."""

    def __init__(self, completions: int, tokens: int):
        self.phases: dict[str, float] = defaultdict(float)
        self.expected = (completions, tokens)
        self.generations = 0

    def wrap(self, trainer, method: str, phase: str) -> None:
        original = getattr(trainer, method, None)
        if original is None:
            raise RuntimeError(f"this TRL has no GRPOTrainer.{method}; the runner times TRL 1.16's methods")

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.phases[phase] += time.perf_counter() - began
            if method == "_generate_single_turn":
                self._check(result[0])
            return result

        setattr(trainer, method, timed)

    def _check(self, completion_ids: list) -> None:
        """Every generation is the step's samples, each exactly the workload's length, or the comparison is
        void."""
        self.generations += 1
        lengths = {len(ids) for ids in completion_ids}
        if (len(completion_ids), lengths) != (self.expected[0], {self.expected[1]}):
            raise RuntimeError(f"TRL generated {len(completion_ids)} completions of lengths {sorted(lengths)}, "
                               f"expected {self.expected[0]} of {self.expected[1]} tokens")

    def take(self) -> dict[str, float]:
        phases, self.phases = dict(self.phases), defaultdict(float)
        return phases


def step_clock(clock: PhaseClock, record: dict):
    """A TrainerCallback appending one row per optimizer step to ``record["steps"]``."""
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        last_end: float | None = None
        last_cpu: float = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            record["torch_threads"] = torch.get_num_threads()

        def on_step_begin(self, args, state, control, **kwargs):
            if self.last_end is None:
                self.last_end, self.last_cpu = time.perf_counter(), time.process_time()
                record["first_step_begin_unix"] = time.time()

        def on_step_end(self, args, state, control, **kwargs):
            now, cpu = time.perf_counter(), time.process_time()
            record["steps"].append({"step": state.global_step, "step_s": now - self.last_end,
                                    "cpu_s": cpu - self.last_cpu, **clock.take()})
            record["last_step_end_unix"] = time.time()
            self.last_end, self.last_cpu = now, cpu

    return StepClock()


def grpo_config(work: Workload, output_dir: Path, steps: int):
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(output_dir),
        use_cpu=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        per_device_train_batch_size=work.samples_per_step,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_iterations=1,
        num_generations=work.samples_per_prompt,
        max_completion_length=work.response_tokens,
        generation_kwargs={"min_new_tokens": work.response_tokens},
        temperature=work.temperature,
        top_p=1.0,
        top_k=0,
        beta=0.0,
        learning_rate=work.learning_rate,
        max_steps=steps,
        seed=0,
        report_to="none",
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def run(model_dir: Path, workload_file: Path, out_dir: Path, total_steps: int, threads: int) -> dict:
    """Train `total_steps` steps; return the per-step record."""
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    from trl import GRPOTrainer

    work, prompts = read_workload_file(workload_file)
    reward = importlib.import_module(work.module).trl_reward
    record: dict = {"framework": "trl", "workload": work.name, "process_start_unix": PROCESS_START_UNIX, "imports_done_unix": time.time(),
                    "versions": {"trl": trl.__version__, "transformers": transformers.__version__,
                                 "torch": torch.__version__}, "steps": []}
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(model_dir))  # as maxrl loads these two folders
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    dataset = Dataset.from_list(prompts)
    clock = PhaseClock(work.samples_per_step, work.response_tokens)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=grpo_config(work, out_dir, total_steps),
                          train_dataset=dataset, processing_class=tokenizer,
                          callbacks=[step_clock(clock, record)])
    for method, phase in WRAPPED.items():
        clock.wrap(trainer, method, phase)
    torch.set_num_threads(threads)  # after the Trainer and Accelerate have set up
    trainer.train()
    if (len(record["steps"]), clock.generations) != (total_steps, total_steps):
        raise RuntimeError(f"{len(record['steps'])} optimizer steps and {clock.generations} generations, "
                           f"expected {total_steps} of each (one optimizer step per generation batch)")
    record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trl.runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="the model and tokenizer folder")
    parser.add_argument("--workload", type=Path, required=True, help="file from spec.write_workload_file")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the per-step record")
    parser.add_argument("--steps", type=int, required=True, help="optimizer steps in all (warm-up included)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="torch intra-op threads (default: every core this process may use)")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = run(args.model_dir, args.workload, args.out.parent / "trl_output", args.steps, args.threads)
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
