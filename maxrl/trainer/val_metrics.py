"""Validation metrics per data source, and the per-prompt success counts behind them.

For each ``data_source`` (``val_kwargs.n`` samples per prompt):

* ``val/<ds>/pass@<k>``: the **unbiased** pass@k (1 - C(n-c, k) / C(n, k)), averaged over prompts;
* ``val/<ds>/mean@<n>`` and ``val/<ds>/num_prompts``;
* verl's names, so existing dashboards keep working: ``val-core/<ds>/<var>/mean@<n>``,
  ``val-core/<ds>/<var>/best@<n>/{mean,std}`` (and ``val-aux/...`` for k < n), ``maj@<k>/{mean,std}``
  when the scorer returns ``pred``; ``best@k`` is verl's bootstrap estimate (biased low), kept only for
  continuity. The core variable is ``acc`` when the scorer returns it, else ``reward``; other numeric
  scorer outputs appear as ``val-aux/<ds>/<var>/mean@<n>``;
* the per-prompt pass-rate bins (``validation_all_datasets_binning/...``).

The success counts are written to ``<run folder>/validation/step_<N>.json`` so that pass@k curves can be
recomputed later at any k <= n (the plot command reads them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from maxrl.algorithms import best_worst_at_k, maj_at_k, pass_at_k
from maxrl.trainer.metrics import SUCCESS_THRESHOLD, group_pass_rates, pass_rate_metrics
from maxrl.utils.atomic import write_text_atomic

VALIDATION_DIR = "validation"


def success_of(scores: np.ndarray, extras: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per-sample success: the scorer's ``acc`` when it reports one, else score > SUCCESS_THRESHOLD."""
    core = extras["acc"] if "acc" in extras else scores
    return np.asarray(core, dtype=np.float64) > SUCCESS_THRESHOLD


def _numeric_variables(scores: np.ndarray, extras: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    variables = {"reward": np.asarray(scores, dtype=np.float64)}
    for name, values in extras.items():
        values = np.asarray(values)
        if values.dtype.kind in "biuf":  # bool, int, unsigned, float: a per-sample number
            variables[name] = values.astype(np.float64)
    return variables


def _by_prompt(values: np.ndarray, group_ids: np.ndarray, prompts: np.ndarray) -> np.ndarray:
    """Values as a [prompts, n] matrix (every prompt has n samples), rows in the order of `prompts`."""
    position = {prompt: row for row, prompt in enumerate(prompts)}
    order = np.argsort([position[gid] for gid in group_ids], kind="stable")
    return values[order].reshape(len(prompts), -1)


def _best_at_k(matrix: np.ndarray, k: int, max_draws: int = 20_000_000) -> tuple[float, float]:
    """verl's bootstrap best@k (mean, std), averaged over prompts, in row chunks that bound memory."""
    rows_per_chunk = max(1, max_draws // (1000 * k))
    means, stds = [], []
    for start in range(0, len(matrix), rows_per_chunk):
        best = best_worst_at_k(matrix[start : start + rows_per_chunk], k)
        means.append(best.best_mean)
        stds.append(best.best_std)
    return float(np.concatenate(means).mean()), float(np.concatenate(stds).mean())


def source_metrics(
    source: str,
    group_ids: np.ndarray,
    scores: np.ndarray,
    extras: Mapping[str, np.ndarray],
    ks: Sequence[int],
) -> tuple[dict[str, float], dict[str, list]]:
    """Metrics of one data source and its per-prompt counts ``{"prompt", "num_samples", "num_correct"}``."""
    success = success_of(scores, extras)
    prompts, totals, correct = group_pass_rates(group_ids, success)
    n = int(totals.min())
    if int(totals.max()) != n:
        raise ValueError(f"validation of {source}: prompts have between {n} and {totals.max()} samples; expected equal")
    metrics = {f"val/{source}/num_prompts": float(len(prompts)), f"val/{source}/mean@{n}": float(success.mean())}
    for k in ks:
        if k <= n:
            metrics[f"val/{source}/pass@{k}"] = float(np.mean(pass_at_k(totals, correct, k)))

    variables = _numeric_variables(scores, extras)
    core = "acc" if "acc" in variables else "reward"
    for name, values in variables.items():
        group = "val-core" if name == core else "val-aux"
        metrics[f"{group}/{source}/{name}/mean@{n}"] = float(values.mean())
    matrix = _by_prompt(variables[core], group_ids, prompts)
    preds = _by_prompt(np.asarray(extras["pred"], dtype=object), group_ids, prompts) if "pred" in extras else None
    for k in ks:
        if k < 2 or k > n:  # best@1 and maj@1 equal mean@n
            continue
        group = "val-core" if k == n else "val-aux"
        best_mean, best_std = _best_at_k(matrix, k)
        metrics[f"{group}/{source}/{core}/best@{k}/mean"] = best_mean
        metrics[f"{group}/{source}/{core}/best@{k}/std"] = best_std
        if preds is not None:
            votes = [maj_at_k(list(p), s, k) for p, s in zip(preds, matrix)]
            metrics[f"{group}/{source}/{core}/maj@{k}/mean"] = float(np.mean([v[0] for v in votes]))
            metrics[f"{group}/{source}/{core}/maj@{k}/std"] = float(np.mean([v[1] for v in votes]))
    counts = {"prompt": [str(p) for p in prompts], "num_samples": totals.tolist(), "num_correct": correct.tolist()}
    return metrics, counts


def validation_metrics(
    data_sources: Sequence[str],
    group_ids: Sequence,
    scores: np.ndarray,
    extras: Mapping[str, np.ndarray],
    ks: Sequence[int],
) -> tuple[dict[str, float], dict[str, dict[str, list]]]:
    """All validation metrics and, per data source, the per-prompt success counts."""
    data_sources = np.asarray(data_sources, dtype=object).astype(str)
    group_ids = np.asarray(group_ids, dtype=object).astype(str)
    scores = np.asarray(scores, dtype=np.float64)
    metrics: dict[str, float] = {}
    counts: dict[str, dict[str, list]] = {}
    for source in map(str, np.unique(data_sources)):
        rows = data_sources == source
        source_extras = {name: np.asarray(values)[rows] for name, values in extras.items()}
        metrics_s, counts[source] = source_metrics(source, group_ids[rows], scores[rows], source_extras, ks)
        metrics |= metrics_s
    metrics |= pass_rate_metrics(group_ids, data_sources, success_of(scores, extras), "validation")
    return metrics, counts


# --------------------------------------------------------------------------- the counts files
def counts_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / VALIDATION_DIR / f"step_{step}.json"


def write_counts(run_dir: str | Path, step: int, counts: Mapping[str, Any]) -> Path:
    """Write one validation's per-prompt success counts (atomically)."""
    path = counts_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"step": step, "data_sources": counts}, indent=1))
    return path


def read_counts(run_dir: str | Path) -> list[tuple[int, dict[str, dict[str, list]]]]:
    """Every validation of a run as ``(step, {data_source: counts})``, in step order."""
    rows = []
    for path in (Path(run_dir) / VALIDATION_DIR).glob("step_*.json"):
        record = json.loads(path.read_text())
        rows.append((int(record["step"]), record["data_sources"]))
    return sorted(rows, key=lambda row: row[0])


def pass_at_k_curve(counts: Mapping[str, list], ks: Sequence[int] | None = None) -> tuple[list[int], list[float]]:
    """Unbiased pass@k over a data source's prompts at every k (default: 1, 2, 4, ... and n itself)."""
    totals = np.asarray(counts["num_samples"], dtype=np.int64)
    correct = np.asarray(counts["num_correct"], dtype=np.int64)
    n = int(totals.min())
    if ks is None:
        ks = sorted({*(2**e for e in range(n.bit_length())), n})
    ks = [k for k in ks if k <= n]
    return ks, [float(np.mean(pass_at_k(totals, correct, k))) for k in ks]
