"""Inputs an advantage estimator may declare beyond rewards, mask and group ids, and where they come from.

The step loop never branches on the estimator's name: it reads `get_advantage_spec(name).extra_inputs`
and passes each named input from the batch. Two inputs add the phase that fills them (critic ``values``
for ``gae``, greedy ``reward_baselines`` for ``remax``, `maxrl.trainer.ray_trainer`); an input with no
source is rejected by `maxrl.config.checks` before anything starts (the ones with a source are listed in
`maxrl.config.choices.SUPPORTED_EXTRA_INPUTS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def gather_extra_inputs(names: Iterable[str], batch: Any) -> dict[str, Any]:
    """The declared inputs, taken from the batch by name."""
    return {name: batch[name] for name in names}
