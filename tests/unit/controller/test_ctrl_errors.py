"""Worker-group errors: readable messages, and fields that survive the trip from a Ray worker."""

import pickle

from maxrl.controller.errors import WorkerDiedError, WorkerError, WorkerTimeoutError

TRACEBACK = 'Traceback (most recent call last):\n  File "w.py", line 3, in step\nKeyError: \'input_ids\'\n'


def test_worker_error_names_rank_method_and_exception_and_pickles_with_its_fields():
    error = pickle.loads(pickle.dumps(WorkerError(3, "update_actor", TRACEBACK)))
    assert (error.rank, error.method, error.remote_traceback) == (3, "update_actor", TRACEBACK)
    first_line, *rest = str(error).splitlines()
    assert first_line == "worker rank 3 raised KeyError: 'input_ids' in update_actor(); its traceback:"
    assert "\n".join(rest) == TRACEBACK.rstrip("\n")


def test_died_and_timeout_errors_say_what_happened_and_what_to_change():
    died = WorkerDiedError(1, "generate_sequences", "The actor died unexpectedly")
    assert str(died).startswith("worker rank 1 died during generate_sequences(); the worker group was shut down")
    late = WorkerTimeoutError("update_actor", [0, 1], 30.0, "timeout_s", "a stuck collective")
    assert str(late) == (
        "update_actor() did not finish within timeout_s=30 on worker ranks [0, 1] (a stuck collective); the worker "
        "group was shut down. Raise timeout_s if this step is legitimately slow."
    )
    assert isinstance(late, TimeoutError)


def test_errors_name_the_worker_group_and_the_node():
    """A pool's failure says which pool (its worker class) and which node: 'worker rank 0' alone is ambiguous
    when a trainer group and a rollout group both have a rank 0."""
    raised = pickle.loads(pickle.dumps(WorkerError(0, "generate_sequences", TRACEBACK, "RolloutWorker")))
    assert raised.group == "RolloutWorker"
    assert str(raised).startswith("RolloutWorker rank 0 raised KeyError: 'input_ids' in generate_sequences()")
    died = WorkerDiedError(0, "generate_sequences", "The actor died unexpectedly", "RolloutWorker",
                           "10.0.0.2 (id 1f2e3d4c5b6a)")
    assert str(died).startswith("RolloutWorker rank 0 on node 10.0.0.2 (id 1f2e3d4c5b6a) died during "
                                "generate_sequences(); the worker group was shut down. Ray reports: The actor died")
    lost = WorkerDiedError(1, "update_actor", "The actor died unexpectedly", "ActorRolloutRefWorker",
                           "10.0.0.3 (id 9a8b7c6d5e4f)", node_lost=True)
    assert str(lost).startswith(
        "ActorRolloutRefWorker rank 1 died during update_actor() with its node 10.0.0.3 (id 9a8b7c6d5e4f), which left "
        "the Ray cluster (its raylet exited or stopped answering Ray's health checks; if the node is up but was "
        "unreachable for a while, raise RAY_health_check_failure_threshold")
    late = WorkerTimeoutError("generate_sequences", [0], 10.0, "trainer.worker_timeout_s", "a hang", "RolloutWorker")
    assert "on RolloutWorker ranks [0] (a hang)" in str(late)
