"""The async-pipeline benchmark's layouts are valid configs that differ only in placement and staleness."""

from pathlib import Path

import pytest

from benchmarks.async_pipeline import LAYOUTS, layout_overrides
from benchmarks.workspace import RunShape, Workspace
from maxrl.config import compose_config
from maxrl.config.checks import check_types
from maxrl.trainer.placement import check_cluster_fits, check_placement


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_each_layout_is_a_valid_config_with_two_processes_at_most(name):
    workers, extra = layout_overrides(name)
    workspace = Workspace(Path("root"), Path("model"), Path("train.parquet"), extra)
    config = compose_config(workspace.overrides(RunShape(workers=workers, ignore_eos=True)))
    assert list(check_types(config)) == []
    check_placement(config, "cpu")
    check_cluster_fits(config, "cpu", 1, {"CPU": 2.0})
    assert config.data.train_batch_size * config.actor_rollout_ref.rollout.n == 16 * 8  # equal samples
    separate = config.actor_rollout_ref.rollout.placement == "separate"
    assert separate == name.startswith("separate") and config.trainer["async"].max_staleness == (name == "separate_s1")
