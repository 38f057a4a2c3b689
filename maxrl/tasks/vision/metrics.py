"""Evaluation metrics of a classifier seen as a policy over labels.

Sampling a label from the softmax succeeds with probability p_y (the probability of the true class), so
k independent samples contain the true label with probability exactly ``1 - (1 - p_y)^k``: pass@k needs no
sampling here. We compute it from log(1 - p_y) taken directly from the logits, so that neither p_y -> 1
(log of a cancellation) nor large k (a power of a number close to 1) loses precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F

DEFAULT_PASS_KS: tuple[int, ...] = tuple(2**i for i in range(11))  # 1, 2, 4, ..., 1024


def powers_of_two_up_to(k_max: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to and including the largest power of two not above ``k_max``."""
    if k_max < 1:
        raise ValueError(f"pass@k needs k_max >= 1, got {k_max}")
    return tuple(2**i for i in range(k_max.bit_length()))


def log_fail_probability(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log(1 - p_y) per row, in float64.

    Two forms, each accurate where the other is not: log1p(-p_y) for p_y <= 1/2 (p_y itself is accurate
    there), and logsumexp(other classes) - logsumexp(all classes) for p_y > 1/2 (no 1 - p_y cancellation).
    """
    logits = logits.double()
    log_z = torch.logsumexp(logits, dim=1)
    log_p = logits.gather(1, labels[:, None]).squeeze(1) - log_z
    others = torch.logsumexp(logits.scatter(1, labels[:, None], float("-inf")), dim=1) - log_z
    return torch.where(log_p <= -math.log(2), torch.log1p(-log_p.exp()), others)


def exact_pass_at_k(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> torch.Tensor:
    """Per-example exact pass@k = 1 - (1 - p_y)^k, [B, len(ks)] float64, computed as -expm1(k log(1 - p_y))."""
    log_fail = log_fail_probability(logits, labels)
    k = torch.as_tensor(list(ks), dtype=log_fail.dtype, device=log_fail.device)
    return -torch.expm1(log_fail[:, None] * k[None, :])


class ClassificationMeter:
    """Sums accuracy, cross-entropy and exact pass@k over batches (and ranks), then reports means.

    Metric names: ``acc`` (argmax accuracy), ``loss`` (cross-entropy, nats) and ``pass@k``.
    """

    def __init__(self, ks: Sequence[int] = DEFAULT_PASS_KS):
        self.ks = tuple(ks)
        self._sums: torch.Tensor | None = None  # [acc, loss, pass@k...]
        self._count = 0

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        logits = logits.float()
        sums = torch.cat(
            [
                (logits.argmax(dim=1) == labels).float().sum()[None],
                F.cross_entropy(logits, labels, reduction="sum")[None],
                exact_pass_at_k(logits, labels, self.ks).sum(dim=0),
            ]
        ).double()
        self._sums = sums if self._sums is None else self._sums + sums
        self._count += len(labels)

    def compute(self) -> dict[str, float]:
        """Means over every example seen, summed across ranks when torch.distributed is initialised."""
        if self._sums is None:
            raise RuntimeError("ClassificationMeter.compute() called before any update()")
        totals = torch.cat([self._sums, torch.tensor([float(self._count)], dtype=torch.float64,
                                                     device=self._sums.device)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(totals)
        means = (totals[:-1] / totals[-1]).tolist()
        names = ["acc", "loss"] + [f"pass@{k}" for k in self.ks]
        return dict(zip(names, means))
