"""The ImageNet launcher: clear errors for missing paths, and a dry run that resolves the paper's config."""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "imagenet" / "imagenet_training_script.sh"


def run_script(env_updates: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("IMAGENET_DATA_DIR", "OUTPUT_DIR")}
    env.update(env_updates)
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120)


def test_missing_paths_are_explained():
    result = run_script({"OUTPUT_DIR": "/tmp/out"})
    assert result.returncode == 2 and "IMAGENET_DATA_DIR is not set" in result.stderr
    result = run_script({"IMAGENET_DATA_DIR": "hub"})
    assert result.returncode == 2 and "OUTPUT_DIR is not set" in result.stderr


def test_dry_run_prints_the_paper_settings_and_forwards_extra_arguments(tmp_path):
    result = run_script(
        {"IMAGENET_DATA_DIR": str(tmp_path / "imagenet"), "OUTPUT_DIR": str(tmp_path / "run"), "DRY_RUN": "1",
         "ADVANTAGE_ESTIMATOR": "grpo", "NPROC_PER_NODE": "4"},
        "trainer.eval_every=500",
    )
    assert result.returncode == 0, result.stderr
    command, config = result.stdout.split("resolved config:")
    assert "torchrun --standalone --nproc_per_node=4 -m maxrl.tasks.vision.train" in command
    for expected in ("name: imagenet", "name: resnet50", "name: grpo", "num_rollouts: 1024", "lr: 0.1",
                     "momentum: 0.9", "weight_decay: 0.0001", "batch_size: 256", "epochs: 20.0", "seed: 69",
                     "eval_every: 500", f"data_dir: {tmp_path / 'imagenet'}"):
        assert expected in config, expected
    assert not (tmp_path / "run").exists()  # a dry run writes nothing
