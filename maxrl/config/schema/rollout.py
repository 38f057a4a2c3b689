"""``actor_rollout_ref.rollout.*``: sampling responses with the actor's current weights."""

from __future__ import annotations

from dataclasses import dataclass

from maxrl.agents.settings import TRUNCATE_SIDES, TURN_REWARD_PLACEMENTS
from maxrl.agents.tool_calls import CALL_PARSERS
from maxrl.config.schema.fields import fraction, knob, non_negative, one_of, positive, positive_int, section
from maxrl.config.schema.training import DTYPES


@dataclass
class MultiTurnConfig:
    enable: bool = knob("true: every sample is an episode of the agent loop (maxrl.agents)")
    max_assistant_turns: int | None = knob("model turns per episode; null = until the response budget", positive_int)
    max_user_turns: int | None = knob(
        "environment turns (tool results, interaction replies) per episode; null = no limit", positive_int
    )
    max_parallel_calls: int = knob("tool calls run per model turn; more are answered with an error", positive_int)
    max_tool_response_length: int = knob("characters kept of a tool's answer", positive_int)
    tool_response_truncate_side: str = knob(
        "which part of a long tool answer is kept: left (start) | middle (both ends) | right (end)",
        one_of(*TRUNCATE_SIDES),
    )
    tool_config_path: str | None = knob("verl-format tool config (tools: class_name, config, tool_schema)")
    interaction_config_path: str | None = knob(
        "verl-format interaction config (interaction: name, class_name, config)"
    )
    format: str = knob(
        "tool-call format in the model's text: hermes (<tool_call>{json}</tool_call>)", one_of(*CALL_PARSERS)
    )
    call_timeout_s: float = knob(
        "time limit of one tool or interaction call; past it the model gets an error", positive
    )
    call_workers: int = knob("processes per rollout worker that run tool and interaction calls", positive_int)
    turn_rewards: str = knob(
        "tool rewards and interaction scores: summed on the last model token | turn_end (each on its turn's "
        "last token)",
        one_of(*TURN_REWARD_PLACEMENTS),
    )


@dataclass
class ValidationSamplingConfig:
    n: int = knob(
        "samples per validation prompt; pass@k is reported for k = 1, 2, 4, ... <= n", positive_int
    )
    do_sample: bool = knob("false = greedy validation")
    temperature: float = knob("validation temperature (used when do_sample)", non_negative)
    top_p: float = knob("validation nucleus sampling", fraction)
    top_k: int = knob("validation top-k (-1 or 0 = off)")


@dataclass
class RolloutConfig:
    name: str = knob("backend: hf (transformers generate, CPU or GPU) | vllm")
    mode: str = knob("accepted for verl compatibility; generation is synchronous")
    n: int = knob("samples per prompt in training (the group size of group estimators)", positive_int)
    temperature: float = knob("training sampling temperature (log-probs are computed at it too)", non_negative)
    top_p: float = knob("nucleus sampling (1.0 = off)", fraction)
    top_k: int = knob("top-k sampling (-1 or 0 = off)")
    do_sample: bool = knob("false = greedy decoding in training")
    dtype: str = knob("generation dtype: fp32 | bf16 | fp16", one_of(*DTYPES))
    prompt_length: int = knob("prompt tokens seen by the engine")
    response_length: int = knob("new tokens per sample")
    ignore_eos: bool = knob("keep generating past eos (benchmarks only)")
    log_prob_micro_batch_size_per_gpu: int | None = knob(
        "samples per forward when recomputing log-probs; null = by log_prob_max_token_len_per_gpu", positive_int
    )
    log_prob_use_dynamic_bsz: bool = knob("micro-batches by token budget for this log-prob pass")
    log_prob_max_token_len_per_gpu: int = knob("its token budget: rows x longest row", positive_int)
    tensor_model_parallel_size: int = knob("vllm: devices per engine", positive_int)
    gpu_memory_utilization: float = knob("vllm: fraction of device memory for weights + KV cache", fraction)
    max_model_len: int | None = knob(
        "vllm: context length; null = prompt_length + response_length", positive_int
    )
    max_num_batched_tokens: int = knob("vllm: tokens per scheduler step", positive_int)
    max_num_seqs: int = knob("vllm: concurrent sequences", positive_int)
    enforce_eager: bool = knob("vllm: no CUDA graphs")
    free_cache_engine: bool = knob("vllm: release the KV cache between generations")
    enable_chunked_prefill: bool = knob("vllm: chunked prefill")
    enable_prefix_caching: bool = knob("vllm: reuse KV of shared prompt prefixes")
    load_format: str = knob("vllm: initial weights (real ones are synced from the actor)")
    check_weight_sync: bool = knob(
        "before each generation, compare rollout and actor log-probs on a probe; fail on a gap"
    )
    weight_sync_tolerance: float | None = knob("nats allowed by that check; null = 1e-3 in fp32, 1.0 in bf16/fp16")
    placement: str = knob(
        "colocated (in the actor's processes) | separate (own pool of RolloutWorkers; docs/async.md)",
        one_of("colocated", "separate"),
    )
    nnodes: int = knob("placement=separate: nodes of the rollout pool", positive_int)
    n_gpus_per_node: int = knob(
        "placement=separate: rollout workers per node (devices, or CPU processes with device=cpu)", positive_int
    )
    micro_batch_size: int | None = knob(
        "samples per generation chunk on one device; null = the whole batch at once "
        "(add it with +actor_rollout_ref.rollout.micro_batch_size=4096)",
        positive_int, added=True,
    )
    multi_turn: MultiTurnConfig = section(
        MultiTurnConfig, "multi-turn episodes with tools and interactions (docs/multi_turn.md)"
    )
    val_kwargs: ValidationSamplingConfig = section(
        ValidationSamplingConfig, "sampling for validation (each validation prompt sampled val_kwargs.n times)"
    )
