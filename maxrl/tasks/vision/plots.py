"""Figures of a comparison: pass@k against k at the end of training, and pass@1 over training.

Each curve is one run (an objective at a number of rollouts); ``label`` names it in the legend and the
optional ``styles[label]`` holds its matplotlib line keywords (colour, line style). Files are written
atomically (a temporary file renamed into place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from maxrl.utils.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, bbox_inches="tight")
    return path


Styles = Mapping[str, Mapping[str, object]]


def _legend_outside(axis) -> None:
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def plot_pass_at_k(curves: Mapping[str, Mapping[int, float]], path: str | Path, title: str,
                   styles: Styles | None = None) -> Path:
    """pass@k (y) against k (x, log2 axis), one line per label."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7.4, 4.4))
    for label, values in curves.items():
        ks = sorted(values)
        axis.plot(ks, [values[k] for k in ks], marker="o", markersize=3, label=label, **(styles or {}).get(label, {}))
    axis.set_xscale("log", base=2)
    axis.set_xlabel("k (samples per image)")
    axis.set_ylabel("exact pass@k")
    axis.set_ylim(0, 1.02)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    _legend_outside(axis)
    try:
        return _save(figure, Path(path))
    finally:
        plt.close(figure)


def plot_metric_over_training(curves: Mapping[str, Sequence[tuple[int, float]]], path: str | Path, title: str,
                              ylabel: str = "pass@1", styles: Styles | None = None) -> Path:
    """A metric (y) against training step (x), one line per label."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7.4, 4.4))
    for label, points in curves.items():
        steps, values = zip(*points) if points else ((), ())
        axis.plot(steps, values, marker="o", markersize=2, label=label, **(styles or {}).get(label, {}))
    axis.set_xlabel("training step")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    _legend_outside(axis)
    try:
        return _save(figure, Path(path))
    finally:
        plt.close(figure)
