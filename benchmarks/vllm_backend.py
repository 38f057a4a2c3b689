"""The ``vllm`` rollout backend against vLLM's own ``LLM.generate`` on the very same engine.

Both sides share one in-process engine (built by the backend, as in a worker), so the comparison
isolates what the backend adds: per-prompt seeds, log-prob requests, left-padding removal and the
conversion of vLLM's outputs into the rollout tensors. Runs only where vLLM is importable (the
``.venv-vllm`` environment on CPU). Both sides run in this process on the same engine, so there is no
worker process to vary: the comparison is one trial.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace

from benchmarks.process_tree import tree_cpu_seconds
from benchmarks.stats import Comparison, compare
from benchmarks.workspace import RunShape, Workspace

__all__ = ["benchmark_vllm", "vllm_available"]

logger = logging.getLogger(__name__)


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def benchmark_vllm(workspace: Workspace, shape: RunShape, repeats: int, warmup: int) -> dict[str, Comparison]:
    """vLLM backend vs ``LLM.generate``: generated tokens per second on `shape`'s prompts."""
    import vllm

    from benchmarks.components import first_prompts
    from maxrl.trainer.main_ppo import worker_config
    from maxrl.workers.rollout import build_rollout, sampling_params_from_config, stop_token_ids

    shape = replace(shape, workers=1, ignore_eos=True, rollout_name="vllm")
    config = worker_config(workspace.config(shape), total_steps=1_000)
    prompts, tokenizer = first_prompts(workspace, config, shape.prompts)
    sampling = sampling_params_from_config(
        config.actor_rollout_ref.rollout, stop_token_ids(str(workspace.model_dir), tokenizer)
    )
    backend = build_rollout("vllm", config=config, tokenizer=tokenizer, device="cpu", seed=0)
    requests = [
        {"prompt_token_ids": ids[mask.bool()].tolist()}
        for ids, mask in zip(prompts["input_ids"], prompts["attention_mask"])
    ]
    raw_params = vllm.SamplingParams(
        n=sampling.n,
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k if sampling.top_k > 0 else -1,
        stop_token_ids=list(sampling.stop_token_ids),
        ignore_eos=not sampling.stop_token_ids,
        detokenize=False,
    )

    def raw_generate() -> int:
        outputs = backend.llm.generate(requests, raw_params, use_tqdm=False)
        return sum(len(completion.token_ids) for request in outputs for completion in request.outputs)

    def backend_generate() -> int:
        return int(backend.generate(prompts, sampling)["response_mask"].sum())

    logger.info("vllm rollout: %d prompts x n=%d, %d tokens each", len(prompts), shape.n, shape.response_length)
    return compare(("LLM.generate", raw_generate), {"rollout vllm: backend.generate": backend_generate},
                   "generated tokens", repeats, warmup, tree_cpu_seconds)
