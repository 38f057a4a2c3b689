"""Two torchrun processes (gloo) train the same model as one process with the same global batch.

With cross-entropy (no sampling) and a model without batch statistics, data parallelism must not change the
result: each rank takes every other example of the same shuffled order, so the two ranks' batches together
are the single process's batch, and DDP's gradient average equals the single-process batch mean.
"""

import os
import subprocess
import sys

import torch

from maxrl.tasks.vision.config import build_config
from maxrl.tasks.vision.train import train

SETTINGS = [
    "data.name=gaussian_mixture", "data.mixture_classes=20", "data.mixture_dim=8",
    "data.mixture_train_per_class=8", "data.mixture_eval_per_class=4", "model.hidden=32",
    "objective.name=cross_entropy", "trainer.batch_size=32", "trainer.max_steps=12", "trainer.eval_every=6",
    "trainer.save_every=12", "trainer.logger=[file]", "trainer.device=cpu", "optim.warmup_epochs=0.5",
]


def launch_two_ranks(output_dir) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "maxrl.tasks.vision.train", *SETTINGS, f"trainer.output_dir={output_dir}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]


def test_two_ranks_match_one_process(tmp_path):
    train(build_config([*SETTINGS, f"trainer.output_dir={tmp_path / 'one'}"]))
    launch_two_ranks(tmp_path / "two")
    single = torch.load(tmp_path / "one" / "checkpoints" / "latest.pt", weights_only=False)["model"]
    parallel = torch.load(tmp_path / "two" / "checkpoints" / "latest.pt", weights_only=False)["model"]
    for name, tensor in single.items():
        torch.testing.assert_close(parallel[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
