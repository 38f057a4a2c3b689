"""Keys and values that grow token by token in buffers allocated once.

A Hugging Face cache concatenates each new token's keys and values onto a copy of the whole cache; over a
response that copying was a quarter of the decoding time of a small model. Here the buffers hold the whole
response from the start, a token is written in place, and ``keys``/``values`` are views of the filled part,
as attention expects. Used by the hf rollout for a repeated cache (`hf_rollout`) and for the samples' own
tokens beside a shared prompt (`shared_prompt_decoding`).
"""

from __future__ import annotations

import torch

__all__ = ["KeyValueBuffers"]


class KeyValueBuffers:
    """`keys`/`values` ``[batch, heads, t, d]`` (initially the given ones) with room for `extra_tokens` more."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, extra_tokens: int):
        batch, heads, self.length, head_dim = keys.shape
        self._buffers = []
        for filled in (keys, values):
            buffer = filled.new_empty(batch, heads, self.length + extra_tokens, head_dim)
            buffer[:, :, : self.length] = filled
            self._buffers.append(buffer)

    @property
    def keys(self) -> torch.Tensor:
        return self._buffers[0][:, :, : self.length]

    @property
    def values(self) -> torch.Tensor:
        return self._buffers[1][:, :, : self.length]

    def append(self, key_states: torch.Tensor, value_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new tokens after the filled part; returns the filled keys and values."""
        end = self.length + key_states.shape[-2]
        if end > self._buffers[0].shape[-2]:
            raise RuntimeError(f"KeyValueBuffers: {end} tokens exceed the {self._buffers[0].shape[-2]} allocated "
                               "for this response")
        self._buffers[0][:, :, self.length: end] = key_states
        self._buffers[1][:, :, self.length: end] = value_states
        self.length = end
        return self.keys, self.values
