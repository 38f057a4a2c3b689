"""Keep what a study's summary needs from its finished runs, small enough to commit.

    python -m maxrl.experiments.run_archive outputs/maze_cpu/regime evidence/maze_regime/runs

A study of many runs can outlast one working session, and run folders (checkpoints, logs) are too large to
commit. Its summary (`maxrl.experiments.maze_compare`) reads only each run's validation counts (per-maze
samples and successes, ``validation/step_<N>.json``, a few KiB) and the ``.done`` marker, so copying those
into a committed folder lets the study accumulate: summarise the archive, not the outputs. The archive keeps
the study's layout (``warm_start/``, ``n<N>/<method>_seed<S>/``) and each run's resolved ``config.yaml``, so
every archived number names the settings that produced it. Unfinished runs are skipped; a run already archived is
copied again only if its source changed (the copy is exact, so rerunning is harmless).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from maxrl.experiments.run_configs import DONE_MARKER
from maxrl.trainer.val_metrics import VALIDATION_DIR
from maxrl.utils.atomic import atomic_path

logger = logging.getLogger(__name__)


def finished_runs(study_dir: Path) -> list[Path]:
    """Run folders of the study that hold the ``.done`` marker (the warm start's validation counts as one)."""
    candidates = [study_dir / "warm_start", *sorted(study_dir.glob("n*/*_seed*"))]
    return [run for run in candidates if (run / DONE_MARKER).exists() and (run / VALIDATION_DIR).is_dir()]


def _copy_if_changed(source: Path, target: Path) -> bool:
    if target.exists() and target.read_bytes() == source.read_bytes():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return True


def archive_run(study_dir: Path, run_dir: Path, archive_dir: Path) -> int:
    """Copy one finished run's validation counts, config and marker; returns how many files changed."""
    target = archive_dir / run_dir.relative_to(study_dir)
    changed = sum(_copy_if_changed(path, target / VALIDATION_DIR / path.name)
                  for path in sorted((run_dir / VALIDATION_DIR).glob("step_*.json")))
    if (run_dir / "config.yaml").is_file():
        changed += _copy_if_changed(run_dir / "config.yaml", target / "config.yaml")
    # The marker goes last: an archive interrupted mid-run is then left out of the summary, not half-read.
    changed += _copy_if_changed(run_dir / DONE_MARKER, target / DONE_MARKER)
    return changed


def archive_study(study_dir: Path, archive_dir: Path) -> list[Path]:
    """Archive every finished run; returns the runs whose files changed."""
    if not study_dir.is_dir():
        raise FileNotFoundError(f"{study_dir}: no such study folder (the COMPARE_ROOT of maze/compare_cpu.sh)")
    updated = [run for run in finished_runs(study_dir) if archive_run(study_dir, run, archive_dir)]
    for run in updated:
        logger.info("archived %s", run.relative_to(study_dir))
    return updated


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maxrl.experiments.run_archive", description=__doc__.split("\n\n")[0])
    parser.add_argument("study_dir", type=Path, help="the study's output folder (warm_start/, n<N>/<method>_seed<S>/)")
    parser.add_argument("archive_dir", type=Path, help="where the small copies go (committed, e.g. evidence/<study>/runs)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[run_archive] %(message)s")
    updated = archive_study(args.study_dir, args.archive_dir)
    logger.info("%d run(s) updated in %s", len(updated), args.archive_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
