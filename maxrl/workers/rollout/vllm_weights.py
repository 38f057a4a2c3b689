"""Streaming the actor's parameters into a vLLM engine that runs in this process.

Tied parameters need care. The actor yields each parameter once (``named_parameters`` drops aliases, so
a model with tied embeddings yields ``model.embed_tokens.weight`` but no ``lm_head.weight``), while vLLM
keeps its own ``lm_head`` whose value an in-place reload leaves untouched unless ``lm_head.weight`` is
loaded too: vLLM then samples from a stale (or, after ``load_format=dummy``, random) output layer. So
every alias of a parameter is sent with it, under each of its names.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig

__all__ = ["load_weights_in_worker", "tied_parameter_aliases", "with_aliases"]


def tied_parameter_aliases(
    model_config: PretrainedConfig, trust_remote_code: bool = False
) -> dict[str, list[str]]:
    """``{name named_parameters() yields: [the other names of the same tensor]}`` for the architecture of
    `model_config`, found by building it on the meta device (no memory, no weights read)."""
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config, trust_remote_code=trust_remote_code)
    first_name: dict[int, str] = {}
    aliases: dict[str, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in first_name:
            aliases.setdefault(first_name[id(parameter)], []).append(name)
        else:
            first_name[id(parameter)] = name
    return aliases


def with_aliases(
    named_tensors: Iterable[tuple[str, torch.Tensor]], aliases: dict[str, list[str]]
) -> Iterator[tuple[str, torch.Tensor]]:
    """`named_tensors` with each tensor repeated under its aliases right after it (lazily: one at a time)."""
    for name, tensor in named_tensors:
        yield name, tensor
        for alias in aliases.get(name, ()):
            yield alias, tensor


def load_weights_in_worker(worker, weights: Iterator[tuple[str, torch.Tensor]]) -> None:
    """Runs inside vLLM's worker (``collective_rpc``; in-process, so `weights` stays a lazy generator).

    Prefers the in-place ``reload_weights``, which re-applies vLLM's kernel layouts (repacked CPU linear
    layers, quantised or fused kernels) after loading; older vLLM only has ``model.load_weights``.
    """
    reload = getattr(worker.model_runner, "reload_weights", None)
    if reload is not None and "weights_iterator" in inspect.signature(reload).parameters:
        worker.reload_weights(weights_iterator=weights)
    else:
        worker.model_runner.model.load_weights(weights)
