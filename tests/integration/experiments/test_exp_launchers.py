"""Every experiment launcher dry-runs (DRY_RUN=1: compose and print the config, start nothing).

GPU launchers get placeholder paths that exist; the composed config must carry the launcher's settings,
the estimator switch and the forwarded Hydra overrides. Missing or wrong environment gives a clear error.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PARQUET_PLACEHOLDER = b"placeholder: dry runs only check that the file exists"


def launch(script, env, *args, timeout=180):
    full_env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(["bash", str(REPO / script), *args], cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def composed(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return yaml.safe_load(result.stdout)


def placeholder(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PARQUET_PLACEHOLDER)
    return path


@pytest.fixture
def gpu_paths(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    data = tmp_path / "data"
    for name in ("train.parquet", "test.parquet", "polaris/train.parquet", "aime25/test.parquet",
                 "math_500/test.parquet"):
        placeholder(data / name)
    return {"model": model, "data": data, "ckpt": tmp_path / "ckpt"}


def test_smollm_gpu_launcher(gpu_paths):
    config = composed(launch("smollm/smollm.sh", {"MODEL_PATH": str(gpu_paths["model"]), "DATA_DIR": str(gpu_paths["data"]),
                                                  "CKPT_DIR": str(gpu_paths["ckpt"]), "ADVANTAGE_ESTIMATOR": "rloo"},
                             "trainer.total_epochs=3"))
    assert config["algorithm"]["adv_estimator"] == "rloo"
    assert config["actor_rollout_ref"]["rollout"]["n"] == 128
    assert config["trainer"]["n_gpus_per_node"] == 8
    assert config["trainer"]["total_epochs"] == 3  # forwarded override wins
    assert config["data"]["train_files"] == str(gpu_paths["data"] / "train.parquet")


def test_maze_gpu_launcher(gpu_paths):
    config = composed(launch("maze/maze_17.sh", {"SFT_MODEL": str(gpu_paths["model"]), "DATA_DIR": str(gpu_paths["data"]),
                                                 "CKPT_DIR": str(gpu_paths["ckpt"]), "ROLLOUT_N": "32"},
                             "actor_rollout_ref.actor.optim.lr=3e-5"))
    assert config["algorithm"]["adv_estimator"] == "maxrl"
    assert config["actor_rollout_ref"]["rollout"]["n"] == 32
    assert config["actor_rollout_ref"]["actor"]["optim"]["lr"] == pytest.approx(3e-5)
    assert config["trainer"]["default_local_dir"] == str(gpu_paths["ckpt"])


def test_qwen3_slurm_launcher(gpu_paths):
    config = composed(launch("qwen3_experiments/run_qwen3_training.sh",
                             {"MODEL_PATH": str(gpu_paths["model"]), "DATA_ROOT": str(gpu_paths["data"]),
                              "CKPT_DIR": str(gpu_paths["ckpt"]), "NNODES": "2", "ADVANTAGE_ESTIMATOR": "grpo"}))
    assert config["algorithm"]["adv_estimator"] == "grpo"
    assert config["trainer"]["nnodes"] == 2
    assert config["data"]["val_files"] == [str(gpu_paths["data"] / "aime25" / "test.parquet"),
                                           str(gpu_paths["data"] / "math_500" / "test.parquet")]


def test_imagenet_gpu_launcher(tmp_path):
    result = launch("imagenet/imagenet_training_script.sh",
                    {"IMAGENET_DATA_DIR": str(tmp_path), "OUTPUT_DIR": str(tmp_path / "run"), "NPROC_PER_NODE": "4",
                     "ADVANTAGE_ESTIMATOR": "grpo"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--nproc_per_node=4" in result.stdout and "objective.name=grpo" in result.stdout


@pytest.mark.parametrize("script", ["maze/maze_cpu.sh", "smollm/smollm_cpu.sh", "qwen3_experiments/qwen3_cpu.sh"])
def test_cpu_launchers_write_under_the_output_dir(script, tmp_path):
    config = composed(launch(script, {"MAXRL_OUTPUT_DIR": str(tmp_path), "ADVANTAGE_ESTIMATOR": "grpo"},
                             "trainer.total_training_steps=2"))
    assert config["algorithm"]["adv_estimator"] == "grpo"
    assert config["trainer"]["device"] == "cpu"
    assert config["trainer"]["total_training_steps"] == 2
    assert config["trainer"]["default_local_dir"].startswith(str(tmp_path))
    assert config["data"]["train_files"].startswith(str(tmp_path))


def test_comparison_study_runs_differ_only_in_the_estimator(tmp_path):
    result = launch("maze/compare_cpu.sh", {"MAXRL_OUTPUT_DIR": str(tmp_path), "METHODS": "maxrl grpo rloo",
                                            "ROLLOUT_NS": "8", "SEEDS": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    configs = {method: yaml.safe_load((tmp_path / "maze_cpu/compare/configs" / f"n8_{method}_seed3.yaml").read_text())
               for method in ("maxrl", "grpo", "rloo")}

    def without_run_identity(config):
        config["algorithm"].pop("adv_estimator")
        config["trainer"].pop("experiment_name")
        config["trainer"].pop("default_local_dir")
        return config

    assert [configs[m]["algorithm"]["adv_estimator"] for m in ("maxrl", "grpo", "rloo")] == ["maxrl", "grpo", "rloo"]
    assert configs["maxrl"]["trainer"]["seed"] == configs["maxrl"]["data"]["seed"] == 3
    assert configs["maxrl"]["actor_rollout_ref"]["rollout"]["val_kwargs"]["n"] == 64
    reference = without_run_identity(configs["maxrl"])
    assert without_run_identity(configs["grpo"]) == reference
    assert without_run_identity(configs["rloo"]) == reference


def test_the_regime_study_starts_from_the_step_200_warm_start_and_validates_every_50_steps(tmp_path):
    result = launch("maze/regime_study_cpu.sh", {"MAXRL_OUTPUT_DIR": str(tmp_path), "SEEDS": "4", "ROLLOUT_NS": "64",
                                                 "METHODS": "rloo"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    config = yaml.safe_load((tmp_path / "maze_cpu/regime/configs/n64_rloo_seed4.yaml").read_text())
    assert config["actor_rollout_ref"]["model"]["path"] == f"{tmp_path}/maze_cpu/sft/checkpoint-200"
    assert config["actor_rollout_ref"]["actor"]["optim"]["lr"] == 3e-5
    assert config["actor_rollout_ref"]["rollout"]["n"] == 64 and config["data"]["train_batch_size"] == 8
    assert config["actor_rollout_ref"]["rollout"]["val_kwargs"]["n"] == 256
    assert config["trainer"]["test_freq"] == 50 and config["trainer"]["total_training_steps"] == 200
    assert config["data"]["val_files"].endswith("heldout/test_first256.parquet")


def test_the_smollm_comparison_composes_its_runs_with_the_smollm_launcher(tmp_path):
    result = launch("smollm/compare_cpu.sh", {"MAXRL_OUTPUT_DIR": str(tmp_path), "SEEDS": "2", "TASK": "chain_sum_3"},
                    timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "smollm_cpu/compare_chain_sum_3/configs"
    configs = {m: yaml.safe_load((folder / f"n16_{m}_seed2.yaml").read_text()) for m in ("maxrl", "grpo")}
    assert sorted(path.name for path in folder.iterdir()) == ["n16_grpo_seed2.yaml", "n16_maxrl_seed2.yaml"]
    config = configs["maxrl"]
    assert config["data"]["train_files"] == f"{tmp_path}/smollm_cpu/data_chain_sum_3/train.parquet"
    assert config["actor_rollout_ref"]["rollout"]["n"] == 16 and config["trainer"]["total_training_steps"] == 20
    assert config["trainer"]["default_local_dir"] == f"{tmp_path}/smollm_cpu/compare_chain_sum_3/n16/maxrl_seed2"
    assert configs["grpo"]["algorithm"]["adv_estimator"] == "grpo"


def test_filter_groups_study_arms_differ_only_in_the_estimator_and_the_filter(tmp_path):
    result = launch("maze/filter_groups_cpu.sh", {"MAXRL_OUTPUT_DIR": str(tmp_path), "SEEDS": "2"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "maze_cpu/filter_groups/configs"
    configs = {(method, filter): yaml.safe_load((folder / f"{method}_filter_{filter}_seed2.yaml").read_text())
               for method in ("maxrl", "grpo") for filter in ("off", "on")}
    on = configs[("maxrl", "on")]
    assert on["algorithm"]["filter_groups"] == {"enable": True, "metric": "acc", "max_num_gen_batches": 0}
    assert on["actor_rollout_ref"]["rollout"]["n"] == 16 and on["trainer"]["test_freq"] == 5
    assert on["trainer"]["seed"] == on["data"]["seed"] == 2 and on["data"]["gen_batch_size"] is None

    def without_arm(config):
        config["algorithm"].pop("adv_estimator")
        config["algorithm"].pop("filter_groups")
        for key in ("experiment_name", "default_local_dir"):
            config["trainer"].pop(key)
        return config

    reference = without_arm(copy.deepcopy(configs[("maxrl", "off")]))
    assert all(without_arm(config) == reference for config in configs.values())


@pytest.mark.parametrize(("script", "env", "message"), [
    ("smollm/smollm.sh", {}, "MODEL_PATH is not set"),
    ("maze/maze_17.sh", {"SFT_MODEL": "/nonexistent/sft"}, "SFT_MODEL=/nonexistent/sft does not exist"),
    ("maze/maze_cpu.sh", {"ADVANTAGE_ESTIMATOR": "ppo"}, "ADVANTAGE_ESTIMATOR=ppo: choose maxrl, grpo or rloo"),
    ("smollm/smollm_cpu.sh", {"ROLLOUT_N": "0"}, "ROLLOUT_N=0 must be a positive whole number"),
    ("maze/compare_cpu.sh", {"SEEDS": "1 x"}, "got 'x'"),
    ("maze/maze_cpu.sh", {"WARM_START_STEP": "250"}, "WARM_START_STEP must be 100, 200, 300 or 400"),
    ("maze/filter_groups_cpu.sh", {"FILTERS": "off maybe"}, "FILTERS takes on and off, got 'maybe'"),
])
def test_bad_environment_is_a_clear_error(script, env, message, tmp_path):
    clean = {key: "" for key in ("MODEL_PATH", "SFT_MODEL", "DATA_DIR", "CKPT_DIR", "ADVANTAGE_ESTIMATOR")}
    result = launch(script, {**clean, "MAXRL_OUTPUT_DIR": str(tmp_path), **env})
    assert result.returncode == 2
    assert message in result.stderr
