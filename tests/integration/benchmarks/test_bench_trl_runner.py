"""TRL's side of the comparison for real: one step of GRPOTrainer in ``.venv-trl``, read back as a run.

Skipped where the TRL venv has not been made (CI does not install TRL). The runner itself fails unless
every generation is 128 completions of exactly 64 tokens and each generation is one optimizer step.
No speed is asserted. About 30 s on 2 cores.
"""

import pytest

from benchmarks.trl.inputs import build_inputs
from benchmarks.trl.trl_side import run_trl, trl_python

pytestmark = pytest.mark.skipif(trl_python() is None,
                                reason="no .venv-trl (make it with: bash benchmarks/trl/setup_venv.sh)")


def test_one_trl_step_with_phases_startup_and_memory(tmp_path):
    run = run_trl(trl_python(), build_inputs(tmp_path / "inputs"), tmp_path / "run", warmup_steps=0,
                  measured_steps=1)
    assert run.layout == "TRL" and len(run.step_s) == 1 and run.step_s[0] > 0
    assert run.phases["gen"][0] > 0 and run.phases["update"][0] > 0
    assert run.phases["gen"][0] + run.phases["update"][0] <= run.step_s[0] + 1e-6
    assert run.startup_s > run.details["import_s"] > 0
    assert run.details["versions"]["trl"] == "1.16.0" and run.details["torch_threads"] >= 1
    assert run.details["step_cpu_s"] > 0
    assert run.memory[0].role == "driver" and run.peak_largest_mib > 100
