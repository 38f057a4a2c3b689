"""Measure a model's pass@k on easy reasoning-gym tasks, to pick one where RL has something to learn.

RL from outcome rewards needs a task the starting model sometimes solves: at pass@1 = 0 every group of
rollouts scores 0 and the update is a no-op; near 1 there is nothing left to gain. For each preset of
`maxrl.data.reasoning_gym_tasks` this samples ``--samples`` answers to ``--problems`` problems with the
model's chat template (the same prompt and scorer a training run uses: the default scorer of the data
source) and reports unbiased pass@k.

    nice -n 19 python -m maxrl.experiments.task_probe --model /tmp/models/smollm2 \\
        --tasks arith_1d legs_easy --out outputs/task_probe

Writes ``<out>/probe.json`` (per task: setting, per-problem correct counts, pass@k, every response) after
each task and ``<out>/probe.md`` (the table) at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from maxrl.algorithms.metrics import pass_at_k
from maxrl.data.reasoning_gym_tasks import PRESETS, short_answer_prompt, unique_problems

logger = logging.getLogger(__name__)


def load_model(path: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return model, tokenizer


def sample_responses(model, tokenizer, prompts: Sequence[str], args) -> list[str]:
    """``args.samples`` sampled responses per prompt, in prompt order, generated ``args.batch_size`` at a time."""
    import torch

    repeated = [prompt for prompt in prompts for _ in range(args.samples)]
    responses = []
    for start in range(0, len(repeated), args.batch_size):
        batch = tokenizer(repeated[start:start + args.batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            output = model.generate(**batch, do_sample=True, temperature=args.temperature, top_p=1.0, top_k=0,
                                    max_new_tokens=args.max_new_tokens, pad_token_id=tokenizer.pad_token_id)
        responses += tokenizer.batch_decode(output[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        logger.info("  %d/%d responses", len(responses), len(repeated))
    return responses


def probe_task(name: str, model, tokenizer, args) -> dict:
    """One preset's pass@k: per-problem correct counts over ``args.samples`` samples."""
    from maxrl.rewards import default_compute_score

    preset = PRESETS[name]
    problems = unique_problems(preset, args.problems, args.seed)
    prompts = [tokenizer.apply_chat_template(short_answer_prompt(entry["question"]), tokenize=False,
                                             add_generation_prompt=True) for entry in problems]
    started = time.perf_counter()
    responses = sample_responses(model, tokenizer, prompts, args)
    scores = [default_compute_score(preset.data_source, response, str(problems[i // args.samples]["answer"]))["acc"]
              for i, response in enumerate(responses)]
    correct = np.asarray(scores, dtype=np.int64).reshape(len(problems), args.samples).sum(axis=1)
    ks = sorted({*(2**e for e in range(args.samples.bit_length())), args.samples} - {0})
    ks = [k for k in ks if k <= args.samples]
    return {
        "task": preset.task, "config": {key: list(v) if isinstance(v, tuple) else v for key, v in preset.config.items()},
        "problems": len(problems), "samples": args.samples, "seconds": round(time.perf_counter() - started, 1),
        "pass_at_k": {str(k): float(np.mean(pass_at_k(np.full_like(correct, args.samples), correct, k))) for k in ks},
        "num_correct": correct.tolist(),
        "responses": [{"question": problems[i // args.samples]["question"], "answer": str(problems[i // args.samples]["answer"]),
                       "response": response, "correct": bool(scores[i])} for i, response in enumerate(responses)],
    }


def markdown_table(results: dict, args) -> str:
    ks = ["1", str(args.samples)]
    lines = [f"| preset | reasoning-gym task | setting | pass@{ks[0]} | pass@{ks[1]} | problems × samples |",
             "|---|---|---|---|---|---|"]
    for name, result in results.items():
        setting = ", ".join(f"{key}={value}" for key, value in result["config"].items())
        lines.append(f"| {name} | {result['task']} | {setting} | {result['pass_at_k'][ks[0]]:.3f} | "
                     f"{result['pass_at_k'][ks[1]]:.3f} | {result['problems']} × {result['samples']} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a Hugging Face model folder (or hub name)")
    parser.add_argument("--tasks", nargs="+", default=list(PRESETS), choices=list(PRESETS), metavar="PRESET",
                        help=f"presets to probe (default: all of {', '.join(PRESETS)})")
    parser.add_argument("--problems", type=int, default=64, help="problems per task (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=8, help="samples per problem (default: %(default)s)")
    parser.add_argument("--max_new_tokens", type=int, default=40, help="response length (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: %(default)s)")
    parser.add_argument("--batch_size", type=int, default=64, help="sequences per generate call (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="problem and sampling seed (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default: %(default)s)")
    parser.add_argument("--out", default="outputs/task_probe", help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if min(args.problems, args.samples, args.max_new_tokens, args.batch_size, args.threads) < 1:
        parser.error("--problems, --samples, --max_new_tokens, --batch_size and --threads must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(args.model)
    results = {}
    for name in args.tasks:
        logger.info("%s: %d problems x %d samples", name, args.problems, args.samples)
        results[name] = probe_task(name, model, tokenizer, args)
        logger.info("%s: pass@k %s (%.0f s)", name, results[name]["pass_at_k"], results[name]["seconds"])
        (out / "probe.json").write_text(json.dumps({"settings": vars(args), "tasks": results}, indent=1))
    table = markdown_table(results, args)
    (out / "probe.md").write_text(table)
    sys.stdout.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
