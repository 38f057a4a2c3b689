"""The staleness-bounded rollout pipeline with a stand-in rollout group that runs each call at submission
(what a Ray actor's in-order queue amounts to), and the placement checks that run before any worker starts."""

import logging

import pytest
import torch

from maxrl.config import compose_config
from maxrl.config.checks import ConfigError, check_config
from maxrl.data.batch import Batch
from maxrl.trainer import placement
from maxrl.trainer.async_rollout import RolloutPipeline, batch_from_state, batch_state
from maxrl.trainer.placement import check_cluster_fits, check_placement, workers_sharing_node
from maxrl.utils.safe_state import load_json_state, save_json_state
from maxrl.workers.rollout_worker import POLICY_VERSION


class Done:
    def __init__(self, value):
        self.value = value

    def done(self):
        return True

    def result(self):
        return self.value


class InOrderRollout:
    """Runs `load_weights` / `generate_sequences` at submission; records (step, version) of each generation."""

    def __init__(self):
        self.version = None
        self.drawn = []

    def submit(self, method, *args, **kwargs):
        if method == "load_weights":
            self.version = kwargs["version"]
            return Done([0.0])
        prompts, step = args[0], kwargs["step"]
        self.drawn.append((step, self.version))
        samples = Batch({"x": prompts["x"], POLICY_VERSION: torch.full((len(prompts),), self.version)},
                        {"uid": prompts["uid"]}, {"async/rollout_idle_s/rank0": 0.5})
        return Done(samples)


class Trainer:
    def rollout_weights(self):
        return [{"w": torch.zeros(1)}, None]


def prompts_of(step):
    return Batch({"x": torch.tensor([step, step])}, {"uid": [f"{step}-0", f"{step}-1"]})


def run(pipeline, rollout, steps, last_step):
    metrics = {}
    for step in steps:
        prompts, samples, metrics[step] = pipeline.take(step, last_step, prompts_of)
        assert samples["x"].tolist() == [step, step] and list(prompts["uid"]) == [f"{step}-0", f"{step}-1"]
        pipeline.sync_weights(step)  # the update of `step` is done
    return metrics


@pytest.mark.parametrize("max_staleness", [0, 1, 2])
def test_each_step_is_drawn_by_the_newest_version_within_the_bound(max_staleness):
    rollout = InOrderRollout()
    pipeline = RolloutPipeline(rollout, Trainer(), max_staleness)
    pipeline.sync_weights(0)
    metrics = run(pipeline, rollout, range(1, 6), last_step=5)
    expected = {step: max(0, step - 1 - max_staleness) for step in range(1, 6)}
    assert dict(rollout.drawn) == expected  # nothing drawn past the last step
    for step in range(1, 6):
        assert metrics[step]["async/staleness_max"] == metrics[step]["async/staleness_mean"] == min(
            step - 1, max_staleness)
        assert metrics[step]["async/rollout_idle_s"] == 0.5


def test_in_flight_draws_survive_a_checkpoint_as_json(tmp_path):
    rollout = InOrderRollout()
    pipeline = RolloutPipeline(rollout, Trainer(), 2)
    pipeline.sync_weights(0)
    run(pipeline, rollout, [1, 2], last_step=6)
    save_json_state(tmp_path / "state.json", {"in_flight": pipeline.state()})

    resumed_rollout = InOrderRollout()
    resumed = RolloutPipeline(resumed_rollout, Trainer(), 2)
    resumed.load_state(load_json_state(tmp_path / "state.json")["in_flight"])
    resumed.sync_weights(2)
    metrics = run(resumed, resumed_rollout, [3, 4, 5, 6], last_step=6)
    assert [m["async/staleness_max"] for m in metrics.values()] == [2, 2, 2, 2]  # steps 3, 4 kept their version
    assert dict(resumed_rollout.drawn) == {5: 2, 6: 3}  # the same versions as an uninterrupted run


@pytest.mark.parametrize("resumed_staleness", [0, 1])
def test_resuming_with_a_lower_staleness_than_the_in_flight_samples_need_is_refused(resumed_staleness):
    """Drawn with max_staleness=2, steps 3 and 4 are in flight at staleness 2 after step 2: a run resumed with
    a lower bound would train them staler than it allows. A higher bound takes them (and draws further)."""
    rollout = InOrderRollout()
    pipeline = RolloutPipeline(rollout, Trainer(), 2)
    pipeline.sync_weights(0)
    run(pipeline, rollout, [1, 2], last_step=6)
    state = pipeline.state()
    with pytest.raises(ValueError, match=r"steps \[3, 4\] with staleness up to 2, more than "
                                         rf"trainer.async.max_staleness={resumed_staleness} allows"):
        RolloutPipeline(InOrderRollout(), Trainer(), resumed_staleness).load_state(state)
    higher_rollout = InOrderRollout()
    higher = RolloutPipeline(higher_rollout, Trainer(), 3)
    higher.load_state(state)
    higher.sync_weights(2)
    metrics = run(higher, higher_rollout, [3, 4, 5, 6], last_step=6)
    assert [m["async/staleness_max"] for m in metrics.values()] == [2, 2, 2, 3]


def test_a_batch_round_trips_through_its_state():
    batch = Batch({"t": torch.arange(6).view(3, 2)}, {"info": [{"a": 1}, {"a": 2}, {"a": 3}], "s": ["x", "y", "z"]},
                  {"k": 1.5})
    back = batch_from_state(batch_state(batch))
    assert back["t"].equal(batch["t"]) and list(back["info"]) == list(batch["info"])
    assert list(back["s"]) == ["x", "y", "z"] and back.meta == {"k": 1.5}


@pytest.mark.parametrize(("overrides", "message"), [
    (["trainer.async.max_staleness=1"], "needs the rollout on its own pool: set actor_rollout_ref.rollout.placement"),
    (["actor_rollout_ref.rollout.placement=separate", "actor_rollout_ref.rollout.check_weight_sync=true"],
     "set check_weight_sync=false"),
    (["actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=1", "algorithm.adv_estimator=remax"],
     "use trainer.async.max_staleness=0"),
])
def test_placement_combinations_that_cannot_work_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_placement(compose_config(overrides), "cpu")


def test_negative_staleness_is_refused_by_the_config_check():
    with pytest.raises(ConfigError, match=r"trainer.async.max_staleness=-1 must be an integer >= 0"):
        check_config(compose_config(["trainer.async.max_staleness=-1"]))


def test_a_rollout_pool_the_cluster_cannot_hold_is_refused():
    config = compose_config(["actor_rollout_ref.rollout.placement=separate",
                             "actor_rollout_ref.rollout.n_gpus_per_node=3", "trainer.n_gpus_per_node=2"])
    check_cluster_fits(config, "cpu", 1, {"CPU": 5.0})
    with pytest.raises(ConfigError, match=r"needs 5 CPUs .* the Ray cluster has 4: lower those sizes"):
        check_cluster_fits(config, "cpu", 1, {"CPU": 4.0})
    with pytest.raises(ConfigError, match=r"needs 7 GPUs"):
        check_cluster_fits(config, "cuda", 2, {"CPU": 64.0, "GPU": 6.0})


@pytest.mark.parametrize(("overrides", "sharing"), [
    ([], None),  # colocated: one pool
    (["actor_rollout_ref.rollout.placement=separate"], None),  # staleness 0: the pools take turns
    (["actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=1",
      "trainer.n_gpus_per_node=2", "actor_rollout_ref.rollout.n_gpus_per_node=3"], 5),
])
def test_overlapping_pools_split_the_cores_between_their_workers(overrides, sharing):
    assert workers_sharing_node(compose_config(overrides)) == sharing


def test_a_rollout_pool_a_local_cluster_cannot_hold_is_refused_before_ray_starts(monkeypatch):
    """The run's own Ray cluster has ray_init.num_cpus CPUs: too many workers are refused by the config-time
    check (a second), not after Ray's start-up (24 s). A joined cluster is checked once connected."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(placement, "_ray_running", lambda: False)  # as in a fresh driver (the suite may hold a Ray)
    sizes = ["actor_rollout_ref.rollout.placement=separate", "actor_rollout_ref.rollout.n_gpus_per_node=3",
             "trainer.n_gpus_per_node=2"]
    with pytest.raises(ConfigError, match=r"needs 5 CPUs .* the Ray cluster has 4: lower those sizes"):
        check_placement(compose_config([*sizes, "ray_init.num_cpus=4"]), "cpu")
    check_placement(compose_config([*sizes, "ray_init.num_cpus=5"]), "cpu")
    check_placement(compose_config([*sizes, "ray_init.num_cpus=4", "ray_init.address=auto"]), "cpu")


def test_stale_samples_without_a_rollout_correction_are_warned_about(caplog):
    stale = ["actor_rollout_ref.rollout.placement=separate", "trainer.async.max_staleness=2", "ray_init.num_cpus=2"]
    with caplog.at_level(logging.WARNING, logger="maxrl.trainer.placement"):
        check_placement(compose_config(stale), "cpu")
    (warning,) = [r.getMessage() for r in caplog.records if "max_staleness" in r.getMessage()]
    assert "trainer.async.max_staleness=2" in warning and "algorithm.rollout_correction.rollout_is=token" in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="maxrl.trainer.placement"):
        check_placement(compose_config([*stale, "algorithm.rollout_correction.rollout_is=token"]), "cpu")
    assert not [r for r in caplog.records if "max_staleness" in r.getMessage()]


def test_a_later_round_is_drawn_by_the_newest_version_after_the_rounds_ahead():
    rollout = InOrderRollout()
    pipeline = RolloutPipeline(rollout, Trainer(), max_staleness=1)
    pipeline.sync_weights(0)

    def prompts_of(step):
        return Batch({"x": torch.tensor([step])}, {"uid": [f"{step}-0"]})

    pipeline.take(1, 3, prompts_of)  # submits steps 1 and 2, by version 0
    samples = pipeline.generate_sequences(prompts_of(1), validate=False, step=1, gen_round=1)
    assert rollout.drawn == [(1, 0), (2, 0), (1, 0)]
    assert RolloutPipeline.staleness_metrics(1, samples)["async/staleness_max"] == 0
