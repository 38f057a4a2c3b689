"""Names that config keys choose among and that the config checks need from the layers above config.

They live here so that `maxrl.config.checks` imports nothing from the trainer; the trainer reads them from
here too (imports point downward: trainer -> config -> algorithms).
"""

KNOWN_BACKENDS = ("console", "file", "wandb", "tensorboard")
"""The trackers ``trainer.logger`` may name (`maxrl.trainer.tracking`)."""

SUPPORTED_EXTRA_INPUTS = frozenset({"old_log_probs", "rollout_log_probs", "responses", "prompts", "attention_mask"})
"""Per-sample fields every training batch holds by the time advantages are computed, so the inputs an
advantage estimator may declare in ``extra_inputs`` (`maxrl.trainer.extra_inputs`)."""
