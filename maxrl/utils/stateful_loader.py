"""torchdata's `StatefulDataLoader`, built without the warning its constructor prints on every run.

The constructor calls ``torch.set_vital``, which torch now keeps only as a deprecated no-op that warns
(torchdata 0.11 is the last release, so the call will not go away upstream). Exactly that warning, from
that call, is silenced; every other warning passes.
"""

from __future__ import annotations

import warnings
from typing import Any

from torchdata.stateful_dataloader import StatefulDataLoader


def stateful_dataloader(dataset, **kwargs: Any) -> StatefulDataLoader:
    """``StatefulDataLoader(dataset, **kwargs)``, minus torchdata's ``'set_vital' is deprecated`` warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'set_vital' is deprecated", category=UserWarning)
        return StatefulDataLoader(dataset, **kwargs)
