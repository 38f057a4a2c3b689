"""The LoRA-vs-full benchmark composes valid configs that differ only in the LoRA keys."""

from pathlib import Path

import pytest

from benchmarks.lora_vs_full import MODES, overrides
from maxrl.config import compose_config
from maxrl.config.checks import check_types


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_mode_is_a_valid_config_at_the_same_batch(mode):
    base = overrides(Path("model"), Path("data"), Path("run"), steps=3)
    config = compose_config([*base, *MODES[mode]])
    assert list(check_types(config)) == []
    assert config.actor_rollout_ref.actor.use_kl_loss  # the full fine-tune keeps its reference copy
    assert (config.actor_rollout_ref.model.lora_rank > 0) == (mode == "lora")
    assert config.data.train_batch_size == 2 and config.actor_rollout_ref.rollout.n == 4
