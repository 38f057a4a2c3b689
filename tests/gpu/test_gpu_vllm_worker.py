"""The vllm backend inside an `ActorRolloutRefWorker` on one GPU (FSDP2 over NCCL, in a local worker group),
bf16 as in production: the actor agrees with vLLM's log-probs, vLLM sleeps between generations, follows an update
through the streamed weight sync, and ``check_weight_sync`` stops a run whose sync was skipped.
"""

import gpu_workers
import pytest
import torch
from gpu_helpers import gpu_config, needs_gpu_and_vllm, prompts, tiny_model
from transformers import AutoTokenizer

from maxrl.controller import LocalWorkerGroup, WorkerError
from maxrl.data.batch import Batch
from maxrl.workers import update_order
from maxrl.workers.rollout.vllm_sync_check import WEIGHT_SYNC_METRIC

pytestmark = needs_gpu_and_vllm

N = 4
BF16_TOLERANCE = 1.0  # nats, the default in bf16 (maxrl/workers/rollout/vllm_sync_check.py)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny_gpu_worker"))


@pytest.fixture(scope="module")
def group(model_dir):
    config = gpu_config(model_dir, "bf16", "data.train_batch_size=4", f"actor_rollout_ref.rollout.n={N}",
                        "actor_rollout_ref.rollout.load_format=dummy",
                        "actor_rollout_ref.rollout.free_cache_engine=true",
                        "++actor_rollout_ref.rollout.check_weight_sync=true",
                        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
                        "actor_rollout_ref.actor.optim.lr=0.05")
    with LocalWorkerGroup(gpu_workers.SyncSkippingWorker, config, device="cuda") as workers:
        yield workers


def test_vllm_in_the_worker_follows_the_actor_and_a_skipped_sync_stops_the_run(group, model_dir):
    batch = prompts(AutoTokenizer.from_pretrained(str(model_dir)))
    samples = group.generate_sequences(batch, step=0)
    assert len(samples) == len(batch) * N and samples.meta[WEIGHT_SYNC_METRIC] < BF16_TOLERANCE
    # asleep between generations: far below the 0.3 of the device vLLM holds while awake
    assert group.device_memory_fraction_in_use()[0] < 0.15

    old = group.compute_log_prob(samples)["old_log_probs"]
    mask = samples["response_mask"].bool()
    assert (samples["rollout_log_probs"] - old)[mask].abs().max() < BF16_TOLERANCE
    advantages = torch.randn(len(samples), 1, generator=torch.Generator().manual_seed(0)).expand_as(old)
    update = samples.union(Batch({"old_log_probs": old, "advantages": advantages.clone()}))
    group.update_actor(update.reorder(update_order(len(update), len(update), 1)))

    after = group.generate_sequences(batch, step=1)  # streams the updated weights into vLLM
    assert after.meta[WEIGHT_SYNC_METRIC] < BF16_TOLERANCE
    actor = group.compute_log_prob(after)["old_log_probs"]
    assert (after["rollout_log_probs"] - actor)[after["response_mask"].bool()].abs().max() < BF16_TOLERANCE
    assert group.device_memory_fraction_in_use()[0] < 0.15

    group.pretend_rollout_is_current()
    with pytest.raises(WorkerError, match="WeightSyncError"):
        group.generate_sequences(batch, step=2)
