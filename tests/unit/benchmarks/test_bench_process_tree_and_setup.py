"""Process-tree memory sampling on a real child process; machine description; run configurations."""

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.end_to_end import step_cpu_seconds
from benchmarks.machine import describe_machine, load_average
from benchmarks.process_tree import (
    CpuAtLineAppends,
    ProcessTreeMemory,
    high_water_mark_bytes,
    process_role,
    tree_cpu_seconds,
    wait_for_workers_to_exit,
)
from benchmarks.suites import SUITES
from benchmarks.workspace import RunShape, Workspace

linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux-only")


@linux_only
def test_high_water_mark_of_this_process_covers_its_resident_set():
    resident = psutil.Process().memory_info().rss  # first: the mark read later covers it even if RSS grew
    assert high_water_mark_bytes(psutil.Process().pid) >= resident
    assert high_water_mark_bytes(2**31 - 1) is None  # no such process


@linux_only
def test_process_tree_memory_sees_a_child_peak():
    """A child touches 64 MiB, frees it and sleeps: its high-water mark still shows the 64 MiB."""
    code = "import time; b = bytearray(64 * 2**20); b[::4096] = b'x' * (len(b) // 4096); del b; time.sleep(3)"
    with ProcessTreeMemory(interval_s=0.1) as memory:
        child = subprocess.Popen([sys.executable, "-c", code])
        child.wait(timeout=60)
    peaks = {peak.pid: peak for peak in memory.peaks()}
    assert peaks[child.pid].peak_bytes >= 64 * 2**20
    assert peaks[child.pid].role == "other"
    assert memory.peaks()[0].role == "driver" and memory.peaks()[0].pid == psutil.Process().pid


def test_tree_cpu_seconds_counts_a_busy_child():
    """A child that spins for 0.5 s of CPU adds about that much to the tree's CPU time."""
    code = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5: pass\ntime.sleep(5)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        before = tree_cpu_seconds()
        deadline = time.monotonic() + 60
        while sum(psutil.Process(child.pid).cpu_times()[:2]) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree_cpu_seconds() - before >= 0.4
    finally:
        child.kill()
        child.wait(timeout=60)


def test_waiting_for_workers_ignores_other_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        began = time.monotonic()
        assert wait_for_workers_to_exit(timeout_s=20) is True  # a plain child is no worker: no wait
        assert time.monotonic() - began < 10
    finally:
        child.kill()
        child.wait(timeout=60)


def test_cpu_readings_at_each_appended_line(tmp_path):
    """Three rows appended with CPU work in between: one reading per row, increasing with the work."""
    path = tmp_path / "metrics.jsonl"
    with CpuAtLineAppends(path, interval_s=0.01) as clock:
        for step in range(1, 4):
            start = time.process_time()
            while time.process_time() - start < 0.2:
                pass
            with path.open("a") as stream:
                stream.write(f'{{"step": {step}}}\n')
            time.sleep(0.3)  # let the watcher see the row before the next one
    assert len(clock.readings) == 3
    assert clock.readings[1] - clock.readings[0] >= 0.15 and clock.readings[2] - clock.readings[1] >= 0.15


def test_step_cpu_seconds_from_readings():
    assert step_cpu_seconds([1.0, 3.0, 6.5], warmup_steps=1, steps=3) == [2.0, 3.5]
    assert step_cpu_seconds([1.0, 3.0, 6.5, 7.0], warmup_steps=2, steps=4) == [3.5, 0.5]


def test_step_cpu_seconds_keeps_the_complete_steps_when_the_last_row_is_missed():
    assert step_cpu_seconds([1.0, 3.0, 6.5], warmup_steps=1, steps=4) == [2.0, 3.5]
    assert step_cpu_seconds([1.0, 3.0], warmup_steps=1, steps=3) == [2.0]
    assert step_cpu_seconds([1.0], warmup_steps=1, steps=3) == []  # no measured step ended in a reading
    assert step_cpu_seconds([], warmup_steps=1, steps=3) == []


def test_step_cpu_seconds_needs_a_reading_at_the_start_of_a_step():
    assert step_cpu_seconds([1.0, 3.0, 6.5], warmup_steps=0, steps=3) == [2.0, 3.5]  # step 1 has no start row
    assert step_cpu_seconds([1.0], warmup_steps=0, steps=1) == []


def test_step_cpu_seconds_drops_values_that_are_no_step_cost():
    assert step_cpu_seconds([1.0, 3.0, 2.0, 4.0], warmup_steps=1, steps=4) == [2.0, 2.0]  # a process ended
    assert step_cpu_seconds([1.0, 3.0, 3.0], warmup_steps=1, steps=3) == [2.0]  # two rows in one poll


def test_process_role_of_this_process_is_driver():
    me = psutil.Process()
    assert process_role(me, me.pid) == "driver"


def test_machine_description_names_cpu_cores_and_versions():
    machine = describe_machine()
    assert machine["cpu"] and machine["logical_cores"] >= 1 and 1 <= machine["usable_cores"] <= machine["logical_cores"]
    assert machine["libraries"]["torch"] and machine["libraries"]["transformers"]
    assert len(load_average()) == 3


def test_run_configuration_applies_the_shape(tmp_path):
    workspace = Workspace(tmp_path, tmp_path / "model", tmp_path / "train.parquet")
    config = workspace.config(RunShape(n=16, workers=1, prompts=2, response_length=24, ignore_eos=True, steps=3),
                              run_dir=tmp_path / "run")
    assert config.actor_rollout_ref.rollout.n == 16 and config.actor_rollout_ref.rollout.ignore_eos is True
    assert config.trainer.n_gpus_per_node == 1 and config.trainer.total_training_steps == 3
    assert config.data.train_batch_size == config.actor_rollout_ref.actor.ppo_mini_batch_size == 2
    assert config.data.max_response_length == 24 and config.data.val_files is None
    assert config.trainer.default_local_dir == str(tmp_path / "run")


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suites_sweep_upwards_and_reuse_the_sweep_point(suite):
    suite = SUITES[suite]
    assert list(suite.n_values) == sorted(suite.n_values) and list(suite.worker_values) == sorted(suite.worker_values)
    assert suite.scaling_shape.n in suite.n_values  # the worker sweep shares a run with the n sweep
    assert suite.scaling_shape.workers in suite.worker_values
    assert suite.trials >= 2 and suite.repeats >= 2  # every suite runs the pooling of trials
    assert suite.measured_steps >= 1


def test_cpu_suite_leaves_two_steps_with_cpu_readings_when_the_last_row_is_missed():
    assert SUITES["cpu"].measured_steps >= 3
