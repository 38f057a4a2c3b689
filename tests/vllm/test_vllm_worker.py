"""The vllm backend inside two `ActorRolloutRefWorker` ranks (FSDP2 over gloo, in Ray): samples that the
actor's `compute_log_prob` agrees with, weights that follow an actor update, and
``rollout.check_weight_sync`` failing loudly when a sync is skipped.

Each rank runs its own in-process vLLM engine in the ranks' torch.distributed world (tensor parallel 1).
float32 everywhere, so correct weights give log-prob gaps of ~1e-6 nats.
"""

import pytest
import torch
import vllm_workers
from ray import cloudpickle
from vllm_helpers import needs_vllm, vllm_config

from maxrl.controller import ResourcePool, WorkerError, WorkerGroup
from maxrl.data.batch import Batch
from maxrl.workers import update_order
from maxrl.workers.rollout.vllm_sync_check import WEIGHT_SYNC_METRIC

pytestmark = needs_vllm
cloudpickle.register_pickle_by_value(vllm_workers)  # the Ray workers cannot import the tests folder

WORLD_SIZE = 2
N = 2
ATOL = 1e-4
TEXTS = ["what is 12 + 30", "the answer", "how many apples does she have left", "sum of 7 and 8"]


@pytest.fixture(scope="module")
def group(ray_cluster, vllm_model_dir):
    config = vllm_config(
        vllm_model_dir,
        "data.train_batch_size=4",
        "trainer.device=cpu",
        f"trainer.n_gpus_per_node={WORLD_SIZE}",
        f"actor_rollout_ref.rollout.n={N}",
        "actor_rollout_ref.rollout.load_format=dummy",
        "actor_rollout_ref.rollout.enable_prefix_caching=true",
        "++actor_rollout_ref.rollout.check_weight_sync=true",
        "++actor_rollout_ref.rollout.weight_sync_tolerance=1e-3",
        "actor_rollout_ref.actor.dtype=fp32",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.actor.optim.lr=0.05",
    )
    pool = ResourcePool(nnodes=1, per_node=WORLD_SIZE, device="cpu")
    worker_cls = vllm_workers.SyncSkippingWorker
    with WorkerGroup(worker_cls, pool, config, timeout_s=180, start_timeout_s=300) as workers:
        yield workers
    pool.shutdown()


@pytest.fixture(scope="module")
def prompts(vllm_tokenizer):
    encoded = vllm_tokenizer(TEXTS, padding=True, return_tensors="pt")
    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return Batch({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                  "position_ids": positions}, {"uid": [f"prompt{i}" for i in range(len(TEXTS))]})


def assert_actor_agrees(group, samples):
    """The actor's log-probs of the sampled tokens equal the ones vLLM reported; returns the actor's."""
    actor = group.compute_log_prob(samples)["old_log_probs"]
    mask = samples["response_mask"].bool()
    torch.testing.assert_close(samples["rollout_log_probs"][mask], actor[mask], atol=ATOL, rtol=0)
    return actor


def update(group, samples, old_log_probs):
    advantages = torch.randn(len(samples), 1, generator=torch.Generator().manual_seed(0))
    batch = samples.union(Batch({"old_log_probs": old_log_probs,
                                 "advantages": advantages.expand_as(old_log_probs).clone()}))
    group.update_actor(batch.reorder(update_order(len(batch), len(batch), WORLD_SIZE)))


def test_vllm_follows_the_actor_through_an_update_and_a_skipped_sync_is_caught(group, prompts):
    samples = group.generate_sequences(prompts, step=0)
    assert len(samples) == len(TEXTS) * N
    assert list(samples["uid"]) == [uid for i in range(len(TEXTS)) for uid in [f"prompt{i}"] * N]
    assert samples.meta[WEIGHT_SYNC_METRIC] < ATOL  # the first sync replaced vLLM's random weights
    old_log_probs = assert_actor_agrees(group, samples)

    update(group, samples, old_log_probs)
    moved = group.compute_log_prob(samples)["old_log_probs"]
    mask = samples["response_mask"].bool()
    assert (moved - old_log_probs)[mask].abs().max() > 0.05, "the update must change the policy visibly"

    after = group.generate_sequences(prompts, step=1)  # syncs the updated weights
    assert after.meta[WEIGHT_SYNC_METRIC] < ATOL
    assert_actor_agrees(group, after)

    update(group, after, group.compute_log_prob(after)["old_log_probs"])
    group.pretend_rollout_is_current()
    with pytest.raises(WorkerError, match="WeightSyncError"):
        group.generate_sequences(prompts, step=2)
