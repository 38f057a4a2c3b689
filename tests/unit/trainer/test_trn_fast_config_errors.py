"""A config error is reported before Ray, transformers or the worker code are imported (so within ~2 s)."""

import subprocess
import sys

SCRIPT = """
import sys
from maxrl.config import compose_config
from maxrl.config.checks import ConfigError
from maxrl.trainer.main_ppo import run_ppo
try:
    run_ppo(compose_config(["data.train_batch_size=0"]))
except ConfigError as error:
    assert "data.train_batch_size=0 must be a positive integer" in str(error), error
print(sorted(name for name in ("ray", "transformers", "tensordict", "maxrl.workers.actor_rollout_ref_worker")
             if name in sys.modules))
"""


def test_config_checks_run_before_the_heavy_imports():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
