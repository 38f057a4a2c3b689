"""Short training runs: learning happens, checkpoints resume exactly, the CLI explains bad input."""

import json

import pytest
import torch

from maxrl.tasks.vision.config import build_config
from maxrl.tasks.vision.train import VisionRun, main, train
from maxrl.trainer.tracking import read_metrics

TINY_MIXTURE = [
    "data.name=gaussian_mixture", "data.mixture_classes=12", "data.mixture_dim=8", "data.mixture_noise=0.3",
    "data.mixture_train_per_class=10", "data.mixture_eval_per_class=5",
    "model.hidden=32", "trainer.batch_size=16", "trainer.eval_batch_size=64", "trainer.log_every=5",
    "trainer.logger=[file]", "trainer.device=cpu", "optim.warmup_epochs=0.5", "optim.lr=0.2",
]


def run_config(tmp_path, *overrides):
    return build_config([*TINY_MIXTURE, f"trainer.output_dir={tmp_path}", *overrides])


@pytest.mark.parametrize("objective", ["maxrl", "cross_entropy"])
def test_short_training_lowers_the_loss_and_raises_pass_at_1(tmp_path, objective):
    config = run_config(tmp_path, f"objective.name={objective}", "objective.num_rollouts=32",
                        "trainer.max_steps=60", "trainer.eval_every=60", "trainer.save_every=0")
    final = train(config)
    records = read_metrics(tmp_path)
    initial = records[0]
    assert initial["step"] == 0 and initial["val/pass@1"] == pytest.approx(1 / 12, rel=0.3)
    assert final["val/loss"] < 0.5 * initial["val/loss"]
    assert final["val/pass@1"] > 3 * initial["val/pass@1"]
    summary = json.loads((tmp_path / "final_metrics.json").read_text())
    assert summary["step"] == 60 and summary["val/pass@1"] == final["val/pass@1"]


def test_resume_after_a_crash_reproduces_the_uninterrupted_run(tmp_path, monkeypatch):
    # 120 training examples / batch 16 = 7 steps per epoch: the checkpoint at step 10 is mid-epoch.
    settings = ["objective.name=maxrl", "objective.num_rollouts=8", "trainer.max_steps=20",
                "trainer.eval_every=10", "trainer.save_every=10"]
    reference_dir, crashed_dir = tmp_path / "reference", tmp_path / "crashed"
    train(run_config(reference_dir, *settings))

    original_step = VisionRun._train_step

    def crash_at_step_13(self, images, labels):
        if self.step == 13:
            raise KeyboardInterrupt
        return original_step(self, images, labels)

    monkeypatch.setattr(VisionRun, "_train_step", crash_at_step_13)
    with pytest.raises(KeyboardInterrupt):
        train(run_config(crashed_dir, *settings))
    monkeypatch.setattr(VisionRun, "_train_step", original_step)
    assert torch.load(crashed_dir / "checkpoints" / "latest.pt", weights_only=False)["step"] == 10
    train(run_config(crashed_dir, *settings))

    reference = torch.load(reference_dir / "checkpoints" / "latest.pt", weights_only=False)
    resumed = torch.load(crashed_dir / "checkpoints" / "latest.pt", weights_only=False)
    assert resumed["step"] == reference["step"] == 20
    for name, tensor in reference["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    strip_timing = [{k: v for k, v in r.items() if k != "timing_s/step"} for r in read_metrics(reference_dir)]
    assert [{k: v for k, v in r.items() if k != "timing_s/step"} for r in read_metrics(crashed_dir)] == strip_timing


def test_bad_config_is_rejected_with_the_key_to_change():
    with pytest.raises(ValueError, match="objective.name='maxrll'"):
        build_config(["objective.name=maxrll"])
    with pytest.raises(ValueError, match="data.name"):
        build_config(["data.name=mnist"])
    with pytest.raises(Exception, match="no_such_key"):
        build_config(["trainer.no_such_key=1"])
    with pytest.raises(ValueError, match="key=value"):
        build_config(["objective.name"])


def test_dry_run_prints_the_resolved_config(capsys):
    main(["data.name=imagenet", "objective.num_rollouts=1024", "trainer.dry_run=true"])
    printed = capsys.readouterr().out
    assert "num_rollouts: 1024" in printed and "name: imagenet" in printed
