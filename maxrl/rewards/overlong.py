"""DAPO's overlong reward shaping (``reward_model.overlong_buffer``, verl's keys).

A response truncated at the length budget is punished although it may be correct; DAPO (Yu et al., 2025,
eq. 13) instead lets a length penalty grow linearly over the last ``len`` tokens of the budget L:
0 up to L - len tokens, then -(|y| - (L - len)) / len, reaching -1 at L, scaled by ``penalty_factor``.
The penalty is negative, so it is refused with estimators that need rewards in [0, 1] (maxrl).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OVERLONG_KEY = "reward_model.overlong_buffer"


@dataclass(frozen=True)
class OverlongBuffer:
    buffer_len: int
    penalty_factor: float
    max_response_length: int

    @classmethod
    def from_config(cls, config) -> OverlongBuffer | None:
        """The shaping the config asks for, or None when ``reward_model.overlong_buffer.enable`` is false."""
        section = config.reward_model.overlong_buffer
        if not section.enable:
            return None
        return cls(int(section.len), float(section.penalty_factor), int(config.data.max_response_length))

    def penalty(self, lengths: np.ndarray) -> np.ndarray:
        """Per response of `lengths` tokens: 0, or the negative penalty within the last ``len`` tokens."""
        start = self.max_response_length - self.buffer_len
        overshoot = (np.asarray(lengths, dtype=np.float64) - start) / self.buffer_len
        return -np.clip(overshoot, 0.0, 1.0) * self.penalty_factor
