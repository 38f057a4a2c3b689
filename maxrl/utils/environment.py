"""The environment of a run with no network: Hugging Face and W&B offline, Ray without auth or telemetry."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["OFFLINE_ENVIRONMENT", "set_offline_environment"]

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline_environment(extra: Mapping[str, str] | None = None) -> None:
    """Set `OFFLINE_ENVIRONMENT` (and `extra`) where the variable is not set already: a user's value wins."""
    for key, value in {**OFFLINE_ENVIRONMENT, **(extra or {})}.items():
        os.environ.setdefault(key, value)
