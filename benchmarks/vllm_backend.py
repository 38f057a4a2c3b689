"""The ``vllm`` rollout backend against vLLM's own ``LLM.generate`` on the very same engine.

Both sides run in this process on one engine (built by the backend, as in a worker), so there is no worker
process to vary and the comparison is one trial. Two rows: the backend against the plain call, and the
plain call with what the backend asks of vLLM (a seed per prompt, the sampled tokens' log-probs) against
the plain call; the gap between the two rows is the backend's own code (left-padding removal, the
conversion of vLLM's outputs into rollout tensors). Runs only where vLLM is importable (``.venv-vllm``).
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
    """Whether an installed vLLM is importable (a folder named ``vllm``, e.g. ``tests/vllm``, is not)."""
    spec = importlib.util.find_spec("vllm")
    return spec is not None and spec.origin not in (None, "namespace")


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

    def generated(outputs) -> int:
        return sum(len(completion.token_ids) for request in outputs for completion in request.outputs)

    def raw_generate() -> int:
        return generated(backend.llm.generate(requests, raw_params, use_tqdm=False))

    # What the backend asks of vLLM beyond the plain call: a seed per prompt (reproducible draws) and the
    # sampled tokens' log-probs. The gap between this row and the backend's is the backend's own code.
    seeded = [raw_params.clone() for _ in requests]
    for seed, params in enumerate(seeded):
        params.seed, params.logprobs = seed, 0

    def seeded_generate() -> int:
        return generated(backend.llm.generate(requests, seeded, use_tqdm=False))

    def backend_generate() -> int:
        return int(backend.generate(prompts, sampling)["response_mask"].sum())

    logger.info("vllm rollout: %d prompts x n=%d, %d tokens each", len(prompts), shape.n, shape.response_length)
    candidates = {"rollout vllm: backend.generate": backend_generate,
                  "rollout vllm: LLM.generate, seeded, with log-probs": seeded_generate}
    return compare(("LLM.generate", raw_generate), candidates,
                   "generated tokens", repeats, warmup, tree_cpu_seconds)
