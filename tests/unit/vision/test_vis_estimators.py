"""The vision task adds its REINFORCE estimators to the shared registry only when a vision run starts."""

import subprocess
import sys

SCRIPT = """
import maxrl.tasks.vision.compare, maxrl.tasks.vision.train, maxrl.tasks.vision.objectives
from maxrl.algorithms import ADVANTAGE_ESTIMATORS
before = sorted(name for name in ADVANTAGE_ESTIMATORS if name.startswith("reinforce_with") or name == "reinforce")
from maxrl.tasks.vision.config import build_config
build_config(["objective.name=reinforce"])
after = sorted(name for name in ADVANTAGE_ESTIMATORS if name.startswith("reinforce_with") or name == "reinforce")
print(before, after)
"""


def test_importing_the_task_registers_nothing_and_its_entry_point_registers_explicitly():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[] ['reinforce', 'reinforce_with_baseline']"
