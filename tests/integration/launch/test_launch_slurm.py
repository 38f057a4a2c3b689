"""The Ray-on-Slurm bootstrap, for real: a single-node Slurm (slurmctld + slurmd + munge) started here,
an `sbatch` job that starts Ray through `srun`, runs a command on it and tears it down.

Skipped where Slurm is not installed (`.ci/run` installs Debian's slurm-wlm and munge).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")) or os.geteuid() != 0,
    reason="needs Debian's slurm-wlm and munge, run as root",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_munge() -> None:
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
        return
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["mungekey", "--create"], check=True)
    subprocess.run(["munged", "--force"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir()
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 2
    conf = root / "slurm.conf"
    conf.write_text(textwrap.dedent(f"""\
        ClusterName=maxrltest
        SlurmctldHost={host}
        AuthType=auth/munge
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        SchedulerType=sched/builtin
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        ReturnToService=2
        SlurmUser=root
        SlurmctldPort={_free_port()}
        SlurmdPort={_free_port()}
        SlurmctldPidFile={root}/slurmctld.pid
        SlurmdPidFile={root}/slurmd.pid
        SlurmdSpoolDir={root}/spool
        StateSaveLocation={root}/state
        SlurmctldLogFile={root}/log/slurmctld.log
        SlurmdLogFile={root}/log/slurmd.log
        MpiDefault=none
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        NodeName={host} CPUs={cpus} State=UNKNOWN
        PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
        """))
    env = dict(os.environ, SLURM_CONF=str(conf))
    _start_munge()
    subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
    subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env)
    deadline = time.monotonic() + 60
    while "idle" not in subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, (root / "log/slurmctld.log").read_text()[-2000:]
        time.sleep(1)
    yield env
    for pid_file in ("slurmd.pid", "slurmctld.pid"):
        pid = (root / pid_file).read_text().strip()
        subprocess.run(["kill", pid], check=False)


def test_sbatch_job_starts_ray_through_srun_runs_the_command_and_tears_down(slurm, tmp_path):
    port = _free_port()
    ray_tmp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    out = tmp_path / "job.out"
    probe = "import ray; ray.init(); print('RAY_NODES', len(ray.nodes()))"
    script = tmp_path / "job.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/bash
        #SBATCH --nodes=1
        #SBATCH --output={out}
        #SBATCH --error={out}
        export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
        {os.sys.executable} -m maxrl.launch.ray_cluster --num-cpus 1 --port {port} --temp-dir {ray_tmp} \\
            -- {os.sys.executable} -c "{probe}"
        echo EXIT_CODE=$?
        """))
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--chdir", os.getcwd(), str(script)],
        env=slurm, capture_output=True, text=True, check=True,
    )
    job_id = submitted.stdout.strip().split(";")[0]
    deadline = time.monotonic() + 240
    while subprocess.run(["squeue", "-h", "-j", job_id], env=slurm, capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, "the Slurm job did not finish in 240 s"
        time.sleep(2)
    log = out.read_text()
    host = socket.gethostname().split(".")[0]
    assert f"starting Ray on 1 node(s): {host}" in log, log  # the Slurm path, not the local one
    assert "RAY_NODES 1" in log, log
    assert "EXIT_CODE=0" in log, log
    assert subprocess.run(["pgrep", "-af", f"port={port}"], capture_output=True, text=True).stdout == ""
