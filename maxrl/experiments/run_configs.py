"""Train several composed configs one after another in one process, on one Ray cluster.

A study runs many short trainings; starting Python, Ray and the reward pool for each costs minutes on a
small shared machine. This runner takes configs a launcher composed (``DRY_RUN=1 bash maze/maze_cpu.sh ...
> run.yaml``), so every run is exactly what that launcher would train, and runs them in turn:

    python -m maxrl.launch.ray_cluster -- python -m maxrl.experiments.run_configs a.yaml b.yaml ...

A run whose folder holds the ``.done`` marker is skipped, so an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from maxrl.config.checks import check_config

logger = logging.getLogger(__name__)

DONE_MARKER = ".done"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maxrl.experiments.run_configs", description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", type=Path, help="composed config YAML files (python -m maxrl.trainer.main_ppo --cfg job)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[run_configs] %(message)s")
    configs = [OmegaConf.load(path) for path in args.configs]
    for path, config in zip(args.configs, configs):
        try:
            check_config(config)  # every config is checked before the first run starts
        except Exception as error:
            raise SystemExit(f"{path}: {error}") from error

    from maxrl.trainer.main_ppo import run_ppo

    for path, config in zip(args.configs, configs):
        run_dir = Path(config.trainer.default_local_dir)
        if (run_dir / DONE_MARKER).exists():
            logger.info("%s: already finished (%s exists), skipped", path, run_dir / DONE_MARKER)
            continue
        started = time.monotonic()
        logger.info("%s: training into %s", path, run_dir)
        run_ppo(config)
        (run_dir / DONE_MARKER).touch()
        logger.info("%s: finished in %.0f s", path, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
