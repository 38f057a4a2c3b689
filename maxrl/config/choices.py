"""Names that config keys choose among and that the config checks need from the layers above config.

They live here so that `maxrl.config.checks` imports nothing from the trainer; the trainer reads them from
here too (imports point downward: trainer -> config -> algorithms).
"""

KNOWN_BACKENDS = ("console", "file", "wandb", "tensorboard")
"""The trackers ``trainer.logger`` may name (`maxrl.trainer.tracking`)."""

CRITIC_VALUES = "values"
"""The extra input that makes the trainer build a critic and add its ``values`` / ``update_critic`` phases."""

GREEDY_BASELINES = "reward_baselines"
"""The extra input that makes the trainer add a greedy rollout per prompt, scored as its baseline (ReMax)."""

SUPPORTED_EXTRA_INPUTS = frozenset(
    {"old_log_probs", "rollout_log_probs", "responses", "prompts", "attention_mask", CRITIC_VALUES, GREEDY_BASELINES}
)
"""The inputs an advantage estimator may declare in ``extra_inputs`` (`maxrl.trainer.extra_inputs`): fields
every training batch holds by the time advantages are computed, plus the two that a declared need adds a
phase for (critic values, greedy baselines)."""
