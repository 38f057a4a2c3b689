"""maxrl's Hydra configuration: the YAML tree beside this file and a compose helper.

The tree mirrors verl's `ppo_trainer.yaml` key names so that verl launch scripts run with little change.
The YAML files hold every default; `maxrl.config.schema` declares each key's type, help and single-value rule
(docs/config.md is written from both by `python -m maxrl.config.reference`);
`maxrl.config.checks.check_config` validates a composed config before anything expensive starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parent
MAIN_CONFIG = "ppo_trainer"


def compose_config(overrides: Sequence[str] = (), config_name: str = MAIN_CONFIG) -> DictConfig:
    """Compose the config exactly as `python -m maxrl.trainer.main_ppo <overrides>` would, without running it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))
