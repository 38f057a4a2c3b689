"""One validation pass: sample ``val_kwargs.n`` responses per validation prompt, score, summarise, record.

The metrics are those of `maxrl.trainer.val_metrics` (and, for multi-turn episodes, those of
`maxrl.agents.metrics` as ``val-multi_turn/*``: the tool-call rate of the evaluated policy); the per-prompt success counts go to
``<run folder>/validation/step_<N>.json`` and, with ``trainer.log_val_generations = G``, the first G
samples go to ``<run folder>/validation/generations_step_<N>.jsonl`` (from the first validation batch).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from maxrl.agents.episode import EPISODE_FIELDS
from maxrl.agents.metrics import episode_metrics
from maxrl.data.batch import Batch
from maxrl.trainer.scoring import decode_prompts, score_batch, write_samples
from maxrl.trainer.val_metrics import VALIDATION_DIR, validation_metrics, write_counts

logger = logging.getLogger(__name__)


def _concat_extras(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    names = set.intersection(*(set(part) for part in parts)) if parts else set()
    return {name: np.concatenate([np.asarray(part[name]) for part in parts]) for name in sorted(names)}


def validate(
    worker_group,
    prompt_batches: Iterable[dict],
    tokenizer,
    reward_manager,
    ks: Sequence[int],
    step: int,
    run_dir: Path,
    log_generations: int = 0,
) -> dict[str, float]:
    """Generate, score and summarise the validation set; write the counts file; return the metrics."""
    sources, uids, scores, extras, episodes, metrics = [], [], [], [], [], {}
    for batch_index, batch_dict in enumerate(prompt_batches):
        prompts = Batch.from_dict(batch_dict)
        uid = np.array([f"val-{batch_index}-{i}" for i in range(len(prompts))], dtype=object)
        prompts = prompts.union(Batch(non_tensors={"uid": uid}))
        samples = worker_group.generate_sequences(prompts, validate=True, step=step)
        scored = score_batch(samples, tokenizer, reward_manager)
        sources.append(samples["data_source"])
        uids.append(samples["uid"])
        scores.append(scored.scores)
        extras.append(scored.extras)
        if EPISODE_FIELDS[0] in samples:
            episodes.append(samples.select(["responses", "response_mask", "attention_mask", *EPISODE_FIELDS]))
        for name, value in scored.metrics.items():
            metrics[f"val-aux/{name}"] = metrics.get(f"val-aux/{name}", 0.0) + float(value)
        if batch_index == 0 and log_generations:
            write_samples(
                run_dir / VALIDATION_DIR / f"generations_step_{step}.jsonl",
                decode_prompts(samples, tokenizer), scored, samples["uid"], limit=log_generations,
            )
    if not scores:
        raise ValueError("validation: data.val_files produced no prompts")
    summary, counts = validation_metrics(
        np.concatenate(sources), np.concatenate(uids), np.concatenate(scores), _concat_extras(extras), ks
    )
    if episodes:
        summary |= {f"val-{name}": value for name, value in episode_metrics(Batch.concat(episodes)).items()}
    write_counts(run_dir, step, counts)
    logger.info("validation at step %d: %s", step, {k: round(v, 4) for k, v in summary.items() if k.startswith("val/")})
    return metrics | summary
