"""trainer.worker_backend: one worker on one node runs in the driver's process; anything more needs Ray."""

import pytest

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError, check_config
from maxrl.trainer.placement import worker_backend

GAE = ["algorithm.adv_estimator=gae"]
SEPARATE = ["actor_rollout_ref.rollout.placement=separate"]


@pytest.mark.parametrize("overrides, backend", [
    ([], "local"),
    (["trainer.device=cuda"], "local"),
    (GAE, "local"),  # the critic colocated with the actor: one group
    (["trainer.n_gpus_per_node=2"], "ray"),
    (["trainer.nnodes=2"], "ray"),
    ([*GAE, "critic.colocate=false"], "ray"),
    (SEPARATE, "ray"),
    (["ray_init.address=auto"], "ray"),  # a cluster to join
    (["trainer.worker_backend=ray"], "ray"),
    (["trainer.worker_backend=local"], "local"),
    (["trainer.worker_backend=local", "ray_init.address=auto"], "local"),
])
def test_auto_is_local_exactly_when_nothing_needs_ray(monkeypatch, overrides, backend):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert worker_backend(compose_config(overrides)) == backend


def test_a_ray_address_in_the_environment_means_ray(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert worker_backend(compose_config([])) == "ray"


@pytest.mark.parametrize("overrides, reason", [
    (["trainer.n_gpus_per_node=2"], r"trainer.nnodes x trainer.n_gpus_per_node = 2 workers"),
    ([*GAE, "critic.colocate=false"], r"critic.colocate=false \(a pool for the critic\)"),
    (SEPARATE, r"actor_rollout_ref.rollout.placement=separate \(a pool for the rollout\)"),
])
def test_local_is_refused_with_what_needs_ray(overrides, reason):
    with pytest.raises(ConfigError, match=f"trainer.worker_backend=local runs one worker in the driver's process, but "
                                          f"this run has {reason}: use trainer.worker_backend=ray"):
        worker_backend(compose_config([*overrides, "trainer.worker_backend=local"]))


def test_an_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match=r"trainer.worker_backend='threads' must be one of \['auto', 'local', 'ray'\]"):
        check_config(compose_config(["trainer.worker_backend=threads"]))
