"""The staleness-bounded rollout pipeline (``trainer.async.max_staleness``, docs/async.md).

With the rollout on its own pool (``actor_rollout_ref.rollout.placement=separate``) the samples of step t
are drawn by the `RolloutWorker` group while the trainer works on earlier steps. Policy version v means
the weights after step v's update (0: the initial weights); the samples of step t drawn from version v
have staleness ``t - 1 - v``, and the pipeline keeps it at most ``max_staleness`` = k:

* before step s trains, the generations of steps up to s + k are submitted (the rollout group holds
  version s - 1 then, so their staleness is at most k);
* after step s's update the trainer's full weights are queued on the rollout group as version s.

A Ray actor runs its calls in submission order, so the version that draws each step is fixed by the
schedule, not by timing: the run is deterministic, and with k = 0 it is the synchronous loop (each step's
generation is submitted, then waited for, with the previous step's weights). A checkpoint holds the
samples still in flight (waited for, then stored as JSON), so a resumed run trains on the same data.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from maxrl.data.batch import Batch
from maxrl.workers.rollout_worker import POLICY_VERSION

if TYPE_CHECKING:  # the pipeline runs only on Ray worker groups; a local run does not import Ray
    from maxrl.controller.worker_group import PendingCall

__all__ = ["RolloutPipeline", "batch_from_state", "batch_state"]

IDLE_PREFIX, BUSY_PREFIX = "async/rollout_idle_s/", "async/rollout_busy_s/"


@dataclass
class _Draw:
    """One step's generation: submitted (`call`) or already in hand (`samples`)."""

    step: int
    prompts: Batch
    call: PendingCall | None = None
    samples: Batch | None = None

    def wait(self) -> Batch:
        if self.samples is None:
            self.samples = self.call.result()
            self.call = None
        return self.samples


def batch_state(batch: Batch) -> dict[str, Any]:
    """`batch` as plain data for a JSON checkpoint (`maxrl.utils.safe_state`)."""
    return {
        "tensors": dict(batch.tensors.items()),
        "non_tensors": {name: list(values) for name, values in batch.non_tensors.items()},
        "meta": dict(batch.meta),
    }


def batch_from_state(state: dict[str, Any]) -> Batch:
    """The inverse of `batch_state`."""
    return Batch(dict(state["tensors"]), state["non_tensors"], state["meta"])


class RolloutPipeline:
    """Generation on `rollout_group`, up to `max_staleness` steps ahead of training by `trainer_group`."""

    def __init__(self, rollout_group, trainer_group, max_staleness: int):
        self.rollout = rollout_group
        self.trainer = trainer_group
        self.max_staleness = max_staleness
        self._draws: deque[_Draw] = deque()
        self._loads: list[PendingCall] = []

    def sync_weights(self, version: int) -> None:
        """Queue the trainer's current weights on the rollout group as policy `version` (rank 0 gathers the
        full parameters; they travel once through the Ray object store)."""
        weights = self.trainer.rollout_weights()[0]
        self._loads.append(self.rollout.submit("load_weights", weights, version=version))

    def take(
        self, step: int, last_step: int, next_prompts: Callable[[int], Batch]
    ) -> tuple[Batch, Batch, dict[str, float]]:
        """``(prompts, samples, metrics)`` of `step`, after submitting the generations of steps up to
        ``min(step + max_staleness, last_step)``; `next_prompts(t)` draws step t's prompts from the data order."""
        last = self._draws[-1].step if self._draws else step - 1
        for t in range(last + 1, min(step + self.max_staleness, last_step) + 1):
            prompts = next_prompts(t)
            self._draws.append(_Draw(t, prompts, self.rollout.submit("generate_sequences", prompts, step=t)))
        draw = self._draws.popleft()
        if draw.step != step:
            raise RuntimeError(f"rollout pipeline: step {step} was asked for but step {draw.step} is next")
        started = time.monotonic()
        samples = draw.wait()
        waited = time.monotonic() - started
        self._settle_loads()
        return draw.prompts, samples, self._metrics(step, samples, waited)

    def generate_sequences(self, prompts: Batch, validate: bool, step: int, gen_round: int) -> Batch:
        """A later generation round of `step` (dynamic sampling), drawn now: by the newest version queued on the
        rollout group (step - 1's, so staleness 0), after the rounds already submitted for later steps."""
        samples = self.rollout.submit(
            "generate_sequences", prompts, validate=validate, step=step, gen_round=gen_round
        ).result()
        self._settle_loads()
        return samples

    def _settle_loads(self) -> None:
        """Raise the failure of any finished weight load (the rest finish in the rollout group's queue)."""
        pending = []
        for load in self._loads:
            if load.done():
                load.result()
            else:
                pending.append(load)
        self._loads = pending

    @staticmethod
    def staleness_metrics(step: int, samples: Batch) -> dict[str, float]:
        """How old the policy versions that drew `samples` are for `step` (``step - 1`` is on-policy)."""
        staleness = (step - 1 - samples[POLICY_VERSION]).double()
        return {
            "async/staleness_mean": float(staleness.mean()),
            "async/staleness_max": float(staleness.max()),
            "async/policy_version_min": float(samples[POLICY_VERSION].min()),
        }

    def _metrics(self, step: int, samples: Batch, waited: float) -> dict[str, float]:
        metrics = self.staleness_metrics(step, samples) | {
            "async/trainer_wait_s": waited,
            "async/in_flight": float(len(self._draws)),
        }
        for prefix, name in ((IDLE_PREFIX, "async/rollout_idle_s"), (BUSY_PREFIX, "async/rollout_busy_s")):
            values = [value for key, value in samples.meta.items() if key.startswith(prefix)]
            if values:
                metrics[name] = float(np.mean(values))
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> list[dict[str, Any]]:
        """The draws in flight, waited for, as plain data (their samples and prompts)."""
        return [
            {"step": draw.step, "prompts": batch_state(draw.prompts), "samples": batch_state(draw.wait())}
            for draw in self._draws
        ]

    def load_state(self, state: list[dict[str, Any]]) -> None:
        """Take the draws a checkpoint holds; refused when one is staler than this run's bound allows (a run
        resumed with a lower ``max_staleness`` than the one that drew them)."""
        draws = [
            _Draw(int(entry["step"]), batch_from_state(entry["prompts"]), samples=batch_from_state(entry["samples"]))
            for entry in state
        ]
        staleness = {draw.step: int((draw.step - 1 - draw.samples[POLICY_VERSION]).max()) for draw in draws}
        if staleness and max(staleness.values()) > self.max_staleness:
            raise ValueError(
                f"the checkpoint holds samples drawn ahead for steps {sorted(staleness)} with staleness up to "
                f"{max(staleness.values())}, more than trainer.async.max_staleness={self.max_staleness} allows; resume "
                f"with trainer.async.max_staleness >= {max(staleness.values())}"
            )
        self._draws = deque(draws)

    def close(self) -> None:
        """Wait for what is queued on the rollout group, so no call outlives the run."""
        for draw in self._draws:
            draw.wait()
        for load in self._loads:
            load.result()
        self._loads = []

