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
        "update_actor() did not finish within timeout_s=30 on ranks [0, 1] (a stuck collective); the worker "
        "group was shut down. Raise timeout_s if this step is legitimately slow."
    )
    assert isinstance(late, TimeoutError)
