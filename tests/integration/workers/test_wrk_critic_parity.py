"""The critic on 2 FSDP2 ranks computes the same values and makes the same update as one process (with a
different micro-batching): the value loss is normalised by the whole mini-batch, as the actor's."""

import pytest
import torch

from maxrl.config import compose_config
from maxrl.controller import ResourcePool, WorkerGroup
from maxrl.data.batch import Batch
from maxrl.workers.batch_sizes import update_order
from maxrl.workers.critic_worker import CriticWorker

PROMPT, RESPONSE, SAMPLES = 6, 5, 8


def config(model_dir, world_size, *extra):
    return compose_config([
        f"actor_rollout_ref.model.path={model_dir}", "trainer.device=cpu", f"trainer.n_gpus_per_node={world_size}",
        "data.train_batch_size=4", "actor_rollout_ref.rollout.n=2", "algorithm.adv_estimator=gae",
        "critic.dtype=fp32", "critic.ppo_mini_batch_size=2", "critic.optim.lr=1e-2", "critic.cliprange_value=0.05",
        *extra,
    ])


def batch():
    generator = torch.Generator().manual_seed(0)
    prompt_mask = (torch.arange(PROMPT)[None] >= torch.tensor([0, 2, 3, 1])[:, None]).long().repeat_interleave(2, 0)
    lengths = torch.randint(1, RESPONSE + 1, (SAMPLES,), generator=generator)
    response_mask = (torch.arange(RESPONSE)[None] < lengths[:, None]).long()
    tokens = torch.randint(1, 90, (SAMPLES, PROMPT + RESPONSE), generator=generator)
    attention_mask = torch.cat([prompt_mask, response_mask], 1)
    positions = (attention_mask.cumsum(1) - 1).clamp(min=0)
    return Batch({
        "input_ids": tokens * attention_mask, "attention_mask": attention_mask, "position_ids": positions,
        "responses": (tokens * attention_mask)[:, PROMPT:], "response_mask": response_mask,
        "returns": torch.randn(SAMPLES, RESPONSE, generator=generator) * response_mask,
    })


def train(group, rows, steps=2):
    """`steps` update_critic calls, each on the values of the critic before it; the metrics of each step and
    the final values."""
    metrics = []
    for _ in range(steps):
        with_values = rows.union(group.compute_values(rows))
        arranged = with_values.reorder(update_order(SAMPLES, mini_batch_samples=4, world_size=group.world_size))
        per_rank = group.update_critic(arranged)
        assert all(m == per_rank[0] for m in per_rank)
        metrics.append(per_rank[0])
    return metrics, group.compute_values(rows)["values"]


@pytest.fixture(scope="module")
def results(ray_cluster, tiny_model_dir):
    out = {}
    for world_size, extra in ((2, ["critic.ppo_micro_batch_size_per_gpu=1"]), (1, [])):
        pool = ResourcePool(nnodes=1, per_node=world_size, device="cpu")
        with WorkerGroup(CriticWorker, pool, config(tiny_model_dir, world_size, *extra), timeout_s=120,
                         start_timeout_s=240) as group:
            initial = group.compute_values(batch())["values"]
            out[world_size] = (initial, *train(group, batch()))
        pool.shutdown()
    return out


def test_values_start_at_zero_and_follow_the_mask(results):
    initial, _, trained = results[2]
    assert torch.all(initial == 0)  # the zero-initialised head
    mask = batch()["response_mask"].bool()
    assert torch.all(trained[~mask] == 0) and torch.any(trained[mask] != 0)


def test_two_ranks_equal_one_process(results):
    (_, metrics_2, values_2), (_, metrics_1, values_1) = results[2], results[1]
    for step_2, step_1 in zip(metrics_2, metrics_1):
        assert step_2.keys() == step_1.keys()
        for key in step_1:
            assert step_2[key] == pytest.approx(step_1[key], rel=1e-4, abs=1e-6), key
    assert metrics_1[1]["critic/vf_clipfrac"] > 0  # the second step moved values past the clip range
    torch.testing.assert_close(values_2, values_1, rtol=1e-4, atol=1e-5)
