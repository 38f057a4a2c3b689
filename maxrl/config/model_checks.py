"""Checks of the config against the model and the longest sequence, before Ray or any worker starts.

* LoRA ``target_modules`` given as names: each must match a linear layer of the model (peft would ignore
  a name that matches nothing, and a list that matches nothing would fail only in the workers). The model
  is built on the meta device from its ``config.json``: no weights are read.
* Token budgets (``*max_token_len_per_gpu``) that cut micro-batches must hold one sequence of the longest
  length the data allows (``data.max_prompt_length`` + ``actor_rollout_ref.rollout.response_length``): below
  that every long row becomes a micro-batch of its own and the update runs several times slower.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from maxrl.config.schema.fields import as_list

MODEL = "actor_rollout_ref.model"
# (samples key, dynamic key, token budget key) of every pass that cuts micro-batches by a token budget when
# its dynamic key is true or its sample count is null (`maxrl.workers.batch_sizes.micro_batching`).
ACTOR_BUDGETS = (
    ("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", "actor_rollout_ref.actor.use_dynamic_bsz",
     "actor_rollout_ref.actor.ppo_max_token_len_per_gpu"),
    ("actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu", "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz",
     "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu"),
    ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", "actor_rollout_ref.ref.log_prob_use_dynamic_bsz",
     "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu"),
)
CRITIC_BUDGETS = (
    ("critic.ppo_micro_batch_size_per_gpu", "critic.use_dynamic_bsz", "critic.ppo_max_token_len_per_gpu"),
    ("critic.forward_micro_batch_size_per_gpu", "critic.use_dynamic_bsz", "critic.forward_max_token_len_per_gpu"),
)


def linear_layer_names(model_cfg: DictConfig) -> list[str]:
    """The full names of the ``nn.Linear`` modules of the model at ``model_cfg.path``, built on the meta device."""
    import importlib

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if model_cfg.external_lib:
        importlib.import_module(model_cfg.external_lib)
    trust_remote_code = bool(model_cfg.trust_remote_code)
    overrides = OmegaConf.to_container(model_cfg.override_config, resolve=True)
    config = AutoConfig.from_pretrained(model_cfg.path, trust_remote_code=trust_remote_code, **overrides)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    return [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]


def _matches(target: str, module_name: str) -> bool:
    """peft's rule for a name in a list of target modules: the full name, or its last dotted parts."""
    return module_name == target or module_name.endswith(f".{target}")


def lora_target_problems(cfg: DictConfig) -> Iterator[str]:
    """Every name in ``target_modules`` must match a linear layer of the model (a list; all-linear always does)."""
    model_cfg = OmegaConf.select(cfg, MODEL)
    targets = model_cfg.get("target_modules")
    rank = model_cfg.get("lora_rank")
    if not isinstance(rank, int) or rank <= 0 or isinstance(targets, str) or not targets:
        return
    if not model_cfg.get("path") or not (Path(str(model_cfg.path)).expanduser() / "config.json").is_file():
        return  # reported by check_files
    layers = linear_layer_names(model_cfg)
    unknown = [str(target) for target in as_list(targets) if not any(_matches(str(target), n) for n in layers)]
    if unknown:
        names = sorted({name.rpartition(".")[2] for name in layers})
        yield (
            f"{MODEL}.target_modules names {unknown}, which match no linear layer of the model at "
            f"{model_cfg.path}; its linear layers are {names} (or use target_modules=all-linear)"
        )


def longest_sequence(cfg: DictConfig) -> int | None:
    prompt = OmegaConf.select(cfg, "data.max_prompt_length")
    response = OmegaConf.select(cfg, "actor_rollout_ref.rollout.response_length")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (prompt, response)):
        return None  # reported by check_types
    return prompt + response


def token_budget_problems(cfg: DictConfig, with_critic: bool) -> Iterator[str]:
    """Each token budget in use must hold the longest sequence."""
    longest = longest_sequence(cfg)
    if longest is None:
        return
    for samples_key, dynamic_key, budget_key in ACTOR_BUDGETS + (CRITIC_BUDGETS if with_critic else ()):
        in_use = OmegaConf.select(cfg, dynamic_key) is True or OmegaConf.select(cfg, samples_key) is None
        budget = OmegaConf.select(cfg, budget_key)
        if in_use and isinstance(budget, int) and not isinstance(budget, bool) and 0 < budget < longest:
            yield (
                f"{budget_key}={budget} is below the longest sequence, {longest} tokens (data.max_prompt_length + "
                "actor_rollout_ref.rollout.response_length): every row longer than the budget would be a "
                f"micro-batch of its own; set {budget_key} >= {longest}"
            )
