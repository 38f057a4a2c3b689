"""The study archive: only finished runs, only what the summary reads, and a summary of the archive equal to
the summary of the outputs it came from."""

import json

from maxrl.experiments.maze_compare import summarise
from maxrl.experiments.run_archive import archive_study, main
from maxrl.experiments.run_configs import DONE_MARKER


def write_run(run_dir, correct, step=10, done=True):
    (run_dir / "validation").mkdir(parents=True)
    counts = {"prompt": [f"m{i}" for i in range(len(correct))], "num_samples": [4] * len(correct),
              "num_correct": list(correct)}
    (run_dir / "validation" / f"step_{step}.json").write_text(json.dumps({"step": step, "data_sources": {"maze_9": counts}}))
    (run_dir / "config.yaml").write_text(f"run: {run_dir.name}\n")
    (run_dir / "global_step_10").mkdir()  # a checkpoint: never archived
    (run_dir / "metrics.jsonl").write_text("{}\n")
    if done:
        (run_dir / DONE_MARKER).touch()


def test_the_archive_keeps_finished_runs_and_summarises_like_the_outputs(tmp_path):
    study, archive = tmp_path / "outputs", tmp_path / "evidence" / "runs"
    write_run(study / "warm_start", [1, 0, 0], step=0)
    write_run(study / "n4" / "maxrl_seed1", [2, 1, 1])
    write_run(study / "n4" / "grpo_seed1", [1, 1, 0])
    write_run(study / "n4" / "rloo_seed1", [0, 0, 0], done=False)
    assert main([str(study), str(archive)]) == 0
    kept = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    assert kept == [f"{run}/{name}" for run in ("n4/grpo_seed1", "n4/maxrl_seed1", "warm_start")
                    for name in (DONE_MARKER, "config.yaml", "validation/step_0.json" if run == "warm_start"
                                 else "validation/step_10.json")]
    assert summarise(archive)["rollouts"] == summarise(study)["rollouts"]
    assert archive_study(study, archive) == []  # nothing changed: nothing copied again
    (study / "n4" / "rloo_seed1" / DONE_MARKER).touch()
    assert [run.name for run in archive_study(study, archive)] == ["rloo_seed1"]
