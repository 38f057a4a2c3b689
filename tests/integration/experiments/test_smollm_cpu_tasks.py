"""smollm/smollm_cpu.sh runs a short-answer reasoning-gym preset (TASK=...) as well as gsm_symbolic (dry runs)."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def launch(env, *args):
    full_env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(["bash", str(REPO / "smollm/smollm_cpu.sh"), *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=180)


def test_a_preset_gets_its_data_run_folder_seed_and_sizes(tmp_path):
    result = launch({"MAXRL_OUTPUT_DIR": str(tmp_path), "TASK": "legs_easy", "SEED": "3",
                     "ADVANTAGE_ESTIMATOR": "grpo"}, "trainer.total_training_steps=5")
    assert result.returncode == 0, result.stderr[-3000:]
    config = yaml.safe_load(result.stdout)
    root = tmp_path / "smollm_cpu"
    assert config["data"]["train_files"] == str(root / "data_legs_easy" / "train.parquet")
    assert config["trainer"]["default_local_dir"] == str(root / "legs_easy" / "grpo_seed3")
    assert config["trainer"]["seed"] == config["data"]["seed"] == 3
    assert config["actor_rollout_ref"]["rollout"]["n"] == 8
    assert config["actor_rollout_ref"]["rollout"]["val_kwargs"]["n"] == 8
    assert config["data"]["max_response_length"] == 32
    assert config["trainer"]["total_training_steps"] == 5  # forwarded override wins


def test_the_default_task_keeps_the_gsm_symbolic_run(tmp_path):
    result = launch({"MAXRL_OUTPUT_DIR": str(tmp_path), "TASK": "", "SEED": "", "ADVANTAGE_ESTIMATOR": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    config = yaml.safe_load(result.stdout)
    assert config["data"]["train_files"] == str(tmp_path / "smollm_cpu" / "data" / "train.parquet")
    assert config["trainer"]["default_local_dir"] == str(tmp_path / "smollm_cpu" / "run_maxrl")
    assert config["data"]["max_prompt_length"] == 320
    assert config["actor_rollout_ref"]["rollout"]["n"] == 2


def test_an_unknown_task_is_a_clear_error(tmp_path):
    result = launch({"MAXRL_OUTPUT_DIR": str(tmp_path), "TASK": "legs"})
    assert result.returncode == 2
    assert "TASK=legs: choose gsm_symbolic or a preset" in result.stderr
