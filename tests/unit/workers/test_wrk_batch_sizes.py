"""Batch-size semantics: resolved numbers, errors that name the key and the values that work, update order."""

import pytest
import torch
from omegaconf import OmegaConf

from maxrl.config import compose_config
from maxrl.workers.batch_sizes import BatchSizeError, chunk_sizes, resolve_batch_sizes, update_order
from maxrl.workers.critic_sizes import resolve_critic_batch_sizes
from maxrl.workers.micro_batches import MicroBatching

BASE = (
    "data.train_batch_size=8",
    "actor_rollout_ref.actor.ppo_mini_batch_size=4",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=3",
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=1024",
    "actor_rollout_ref.rollout.n=4",
    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=2048",
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=5",
    "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=4096",
)


def make_config(**overrides):
    """The composed config (the YAML defaults for every other key) with `overrides` set as given, bad types
    included (they bypass Hydra's parsing)."""
    config = compose_config(BASE)
    for key, value in overrides.items():
        OmegaConf.update(config, key, value)
    return config


def test_resolved_sizes_follow_the_documented_units():
    sizes = resolve_batch_sizes(make_config(), world_size=2)
    assert (sizes.train_samples, sizes.mini_batch_samples, sizes.num_mini_batches) == (32, 16, 2)
    assert sizes.mini_batch_per_device == 8
    assert sizes.update_micro_batching == MicroBatching(max_samples=3)
    assert sizes.log_prob_micro_batching == MicroBatching(max_tokens=2048)  # no sample count: by its budget
    assert sizes.ref_log_prob_micro_batching == MicroBatching(max_samples=5)
    assert sizes.rollout_micro_batch is None


def test_mini_batch_that_does_not_divide_train_batch_lists_working_values():
    with pytest.raises(BatchSizeError) as error:
        resolve_batch_sizes(make_config(**{"actor_rollout_ref.actor.ppo_mini_batch_size": 3}), world_size=2)
    message = str(error.value)
    assert "actor_rollout_ref.actor.ppo_mini_batch_size=3" in message
    assert "data.train_batch_size=8" in message
    assert "[1, 2, 4, 8]" in message


def test_mini_batch_samples_must_split_over_ranks():
    config = make_config(**{"actor_rollout_ref.rollout.n": 1, "actor_rollout_ref.actor.ppo_mini_batch_size": 2})
    with pytest.raises(BatchSizeError) as error:
        resolve_batch_sizes(config, world_size=4)
    assert "not divisible by 4 ranks" in str(error.value)
    assert "values that work: [4, 8]" in str(error.value)


def test_no_working_value_says_what_else_to_change():
    config = make_config(**{"data.train_batch_size": 3, "actor_rollout_ref.rollout.n": 1,
                            "actor_rollout_ref.actor.ppo_mini_batch_size": 3})
    with pytest.raises(BatchSizeError, match="change data.train_batch_size or the number of ranks"):
        resolve_batch_sizes(config, world_size=2)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("data.train_batch_size", 0),
        ("actor_rollout_ref.rollout.n", None),
        ("actor_rollout_ref.actor.ppo_mini_batch_size", True),
        ("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", -1),
        ("actor_rollout_ref.actor.ppo_epochs", 0),
    ],
)
def test_non_positive_values_name_their_key(key, value):
    with pytest.raises(BatchSizeError, match=f"{key}="):
        resolve_batch_sizes(make_config(**{key: value}), world_size=1)


def test_dynamic_batch_size_turns_each_pass_to_its_token_budget():
    sizes = resolve_batch_sizes(make_config(**{
        "actor_rollout_ref.actor.use_dynamic_bsz": True, "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": 512,
        "actor_rollout_ref.ref.log_prob_use_dynamic_bsz": True, "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu": 64,
    }), world_size=1)
    assert sizes.update_micro_batching == MicroBatching(max_tokens=512)
    assert sizes.log_prob_micro_batching == MicroBatching(max_tokens=2048)
    assert sizes.ref_log_prob_micro_batching == MicroBatching(max_tokens=64)
    with pytest.raises(BatchSizeError, match="ppo_max_token_len_per_gpu=0"):
        resolve_batch_sizes(make_config(**{
            "actor_rollout_ref.actor.use_dynamic_bsz": True, "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": 0,
        }), world_size=1)


def test_deprecated_keys_are_rejected_with_the_replacement():
    with pytest.raises(BatchSizeError, match="ppo_micro_batch_size_per_gpu"):
        resolve_batch_sizes(make_config(**{"actor_rollout_ref.actor.ppo_micro_batch_size": 8}), world_size=1)


def test_world_size_must_be_positive():
    with pytest.raises(BatchSizeError, match="world size"):
        resolve_batch_sizes(make_config(), world_size=0)


def test_update_order_golden():
    # 2 mini-batches of 4 rows over 2 ranks: rank 0 gets rows 0,1 (mini 0) and 4,5 (mini 1).
    assert update_order(8, 4, 2).tolist() == [0, 1, 4, 5, 2, 3, 6, 7]


@pytest.mark.parametrize(("num", "mini", "world"), [(12, 6, 3), (16, 8, 2), (8, 8, 4), (6, 3, 1)])
def test_each_ranks_kth_mini_batch_is_its_slice_of_global_mini_batch_k(num, mini, world):
    order = update_order(num, mini, world)
    assert sorted(order.tolist()) == list(range(num))
    per_rank = order.view(world, num // world)  # dispatch hands out contiguous equal chunks
    for k in range(num // mini):
        held = torch.cat([chunk[k * mini // world : (k + 1) * mini // world] for chunk in per_rank])
        assert sorted(held.tolist()) == list(range(k * mini, (k + 1) * mini))


def test_update_order_rejects_uneven_layouts():
    with pytest.raises(BatchSizeError):
        update_order(10, 4, 2)
    with pytest.raises(BatchSizeError):
        update_order(9, 3, 2)


def test_chunk_sizes():
    assert chunk_sizes(7, 3) == [3, 3, 1]
    assert chunk_sizes(6, 3) == [3, 3]
    assert chunk_sizes(5, None) == [5]
    assert chunk_sizes(2, 8) == [2]


def test_critic_sizes_follow_the_actor_units_and_share_its_checks():
    sizes = resolve_critic_batch_sizes(make_config(**{"critic.ppo_mini_batch_size": 2,
                                                      "critic.ppo_micro_batch_size_per_gpu": 2}), world_size=2)
    assert (sizes.mini_batch_samples, sizes.mini_batch_per_device) == (8, 4)
    assert sizes.update_micro_batching == sizes.forward_micro_batching == MicroBatching(max_samples=2)
    with pytest.raises(BatchSizeError) as error:
        resolve_critic_batch_sizes(make_config(**{"critic.ppo_mini_batch_size": 3}), world_size=2)
    assert str(error.value) == ("critic.ppo_mini_batch_size=3 does not divide data.train_batch_size=8; "
                                "values that work: [1, 2, 4, 8]")
    with pytest.raises(BatchSizeError, match="critic.rollout_n=2 must equal actor_rollout_ref.rollout.n=4"):
        resolve_critic_batch_sizes(make_config(**{"critic.rollout_n": 2}), world_size=1)
    with pytest.raises(BatchSizeError, match="forward_micro_batch_size_per_gpu"):
        resolve_critic_batch_sizes(make_config(**{"critic.forward_micro_batch_size": 8}), world_size=1)
