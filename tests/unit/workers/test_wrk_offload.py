"""``fsdp_config.param_offload`` / ``optimizer_offload``: FSDP2's CPU offload policy on a GPU, a warning (never
silence) on CPU, nothing when off. (The offloaded training itself is checked in tests/gpu/test_gpu_offload.py.)"""

import logging

import pytest
import torch
from torch.distributed.fsdp import CPUOffloadPolicy, OffloadPolicy

from maxrl.workers.fsdp import offload_policy


@pytest.mark.parametrize("key", ["param_offload", "optimizer_offload"])
def test_either_key_offloads_on_a_gpu(key):
    policy = offload_policy({key: True}, torch.device("cuda", 0), "critic.model")
    assert isinstance(policy, CPUOffloadPolicy) and policy.pin_memory


def test_on_cpu_the_keys_are_a_logged_no_op(caplog):
    with caplog.at_level(logging.WARNING, logger="maxrl.workers.fsdp"):
        policy = offload_policy({"param_offload": True, "optimizer_offload": True}, torch.device("cpu"),
                                "actor_rollout_ref.actor")
    assert type(policy) is OffloadPolicy
    assert ("actor_rollout_ref.actor.fsdp_config.param_offload, actor_rollout_ref.actor.fsdp_config.optimizer_offload: "
            "no-op on a CPU run") in caplog.text


@pytest.mark.parametrize("fsdp_config", [None, {}, {"param_offload": False, "optimizer_offload": False}])
def test_off_means_no_policy_and_no_message(fsdp_config, caplog):
    with caplog.at_level(logging.INFO, logger="maxrl.workers.fsdp"):
        assert type(offload_policy(fsdp_config, torch.device("cuda", 0), "actor_rollout_ref.ref")) is OffloadPolicy
    assert caplog.text == ""
