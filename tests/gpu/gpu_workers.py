"""A worker class for the GPU worker test."""

from maxrl.controller.methods import on_all_ranks
from maxrl.workers import ActorRolloutRefWorker


class SyncSkippingWorker(ActorRolloutRefWorker):
    """The real worker, plus a way to simulate a bookkeeping bug that skips the next weight sync."""

    @on_all_ranks
    def pretend_rollout_is_current(self) -> None:
        self._rollout_version = self._weights_version

    @on_all_ranks
    def device_memory_fraction_in_use(self) -> float:
        import torch

        free, total = torch.cuda.mem_get_info()
        return (total - free) / total
