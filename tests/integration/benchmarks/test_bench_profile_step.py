"""`benchmarks.trl.profile_step` for real, in its own process (it forms a one-rank gloo world): the
phase times and page-fault count, and the profiler's table. No speed is asserted. About 25 s on 2 cores."""

import re
import subprocess
import sys


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "benchmarks.trl.profile_step", "--steps", "1", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_phase_times_and_page_faults_then_a_profile_of_the_update():
    line = _run().strip().splitlines()[-1]
    assert re.fullmatch(r"gen \d+\.\d{3} s, update \d+\.\d{3} s, \d+ page faults per update "
                        r"\(median of 1 steps, \d+ threads\)", line), line
    table = _run("--profile", "update", "--rows", "5")
    assert "Self CPU time total" in table and "aten::" in table
