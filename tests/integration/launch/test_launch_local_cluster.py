"""The launcher really starts a local Ray head, runs the command against it, and tears it down."""

import socket
import subprocess
import sys
import tempfile


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_processes_on(port: int) -> str:
    return subprocess.run(["pgrep", "-af", f"port={port}"], capture_output=True, text=True).stdout


def test_command_runs_on_the_cluster_and_its_exit_code_is_returned():
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    probe = "import ray, sys; ray.init(); print('CPUS', ray.cluster_resources()['CPU']); sys.exit(7)"
    result = subprocess.run(
        [sys.executable, "-m", "maxrl.launch.ray_cluster", "--local", "--num-cpus", "3", "--port", str(port),
         "--temp-dir", temp_dir, "--", sys.executable, "-c", probe],
        capture_output=True, text=True, timeout=240,
    )
    assert "CPUS 3.0" in result.stdout, result.stderr[-2000:]
    assert result.returncode == 7
    assert _ray_processes_on(port) == ""


def test_a_head_that_cannot_start_fails_fast_with_its_exit_code():
    long_dir = "/tmp/" + "x" * 120  # too long for Ray's socket paths: `ray start` exits at once
    result = subprocess.run(
        [sys.executable, "-m", "maxrl.launch.ray_cluster", "--local", "--port", str(_free_port()),
         "--temp-dir", long_dir, "--join-timeout", "120", "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "before the cluster formed" in result.stderr


def test_sigterm_stops_the_job_and_the_cluster(tmp_path):
    import os
    import signal
    import time

    port = _free_port()
    pid_file = tmp_path / "job.pid"
    job = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "maxrl.launch.ray_cluster", "--local", "--num-cpus", "1", "--port", str(port),
         "--temp-dir", tempfile.mkdtemp(prefix="r", dir="/tmp"), "--", sys.executable, "-c", job],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and launcher.poll() is None, "the job never started"
        time.sleep(0.5)
    job_pid = int(pid_file.read_text())
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=120) == 143
    try:
        os.kill(job_pid, 0)
        job_alive = True
    except ProcessLookupError:
        job_alive = False
    assert not job_alive
    assert _ray_processes_on(port) == ""
