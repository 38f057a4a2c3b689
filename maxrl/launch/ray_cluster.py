"""Start a Ray cluster for one job, run a command on it, and always tear the cluster down.

One helper serves every launcher: on a laptop or a single GPU box it starts a local head node; inside a
Slurm allocation it starts the head on the first node and one worker per other node with `srun`, waits
until every node has joined (or fails with a clear error after a timeout), runs the command on the head
with `RAY_ADDRESS` set, and stops every Ray process it started on exit, failure and Ctrl-C included.

    python -m maxrl.launch.ray_cluster [--num-cpus C] [--num-gpus G] -- python -m maxrl.trainer.main_ppo ...

``--dry-run`` prints the commands it would run on each node (and the job's) and starts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("maxrl.launch")

DEFAULT_PORT = 6379


class ClusterStartError(RuntimeError):
    """The Ray cluster could not be started or did not assemble in time."""


def ray_executable() -> str:
    """The `ray` command of the Python running this helper: the one beside `sys.executable` (a virtual
    environment's bin folder, on PATH only when the environment is activated), else the one on PATH."""
    beside = Path(sys.executable).parent / "ray"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("ray")
    if found is None:
        raise ClusterStartError(
            f"no `ray` command beside {sys.executable} nor on PATH; install maxrl's dependencies into this Python"
        )
    return found


@dataclass
class ClusterSpec:
    """What to start: the hosts (head first), per-node resources and where Ray listens."""

    hosts: list[str]
    head_ip: str
    port: int = DEFAULT_PORT
    num_cpus: int | None = None
    num_gpus: int | None = None
    temp_dir: str | None = None
    use_srun: bool = False
    extra_ray_args: list[str] = field(default_factory=list)
    ray_command: str = field(default_factory=ray_executable)

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.port}"


def _resource_args(spec: ClusterSpec) -> list[str]:
    args = ["--disable-usage-stats", "--include-dashboard=false", "--block"]
    if spec.num_cpus is not None:
        args.append(f"--num-cpus={spec.num_cpus}")
    if spec.num_gpus is not None:
        args.append(f"--num-gpus={spec.num_gpus}")
    return args + list(spec.extra_ray_args)


def _on_host(spec: ClusterSpec, host: str, command: list[str]) -> list[str]:
    """Wrap a command so that it runs on `host` (through srun inside Slurm, directly otherwise)."""
    if not spec.use_srun:
        return command
    return ["srun", "--nodes=1", "--ntasks=1", "--overlap", "-w", host, *command]


def head_command(spec: ClusterSpec) -> list[str]:
    command = [spec.ray_command, "start", "--head", f"--node-ip-address={spec.head_ip}", f"--port={spec.port}"]
    if spec.temp_dir:
        command.append(f"--temp-dir={spec.temp_dir}")
    return _on_host(spec, spec.hosts[0], command + _resource_args(spec))


def worker_command(spec: ClusterSpec, host: str) -> list[str]:
    command = [spec.ray_command, "start", f"--address={spec.address}"]
    return _on_host(spec, host, command + _resource_args(spec))


def slurm_hosts(nodelist: str) -> list[str]:
    """Expand a Slurm node list (e.g. `gpu[01-04]`) with scontrol, which knows every syntax variant."""
    out = subprocess.run(
        ["scontrol", "show", "hostnames", nodelist], check=True, capture_output=True, text=True
    ).stdout
    hosts = [line.strip() for line in out.splitlines() if line.strip()]
    if not hosts:
        raise ClusterStartError(f"scontrol returned no hosts for SLURM_JOB_NODELIST={nodelist!r}")
    return hosts


def first_ipv4(text: str) -> str:
    """`hostname --ip-address` may print several addresses (IPv6, several NICs): take the first IPv4."""
    for token in text.split():
        parts = token.split(".")
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return token
    raise ClusterStartError(f"no IPv4 address in {text!r}; set RAY_HEAD_IP to the head node's address")


def resolve_head_ip(host: str, use_srun: bool) -> str:
    if os.environ.get("RAY_HEAD_IP"):
        return os.environ["RAY_HEAD_IP"]
    command = ["hostname", "--ip-address"]
    if use_srun:
        command = ["srun", "--nodes=1", "--ntasks=1", "--overlap", "-w", host, *command]
    return first_ipv4(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def _port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_nodes(address: str, expected: int, timeout_s: float, processes: list[subprocess.Popen]) -> None:
    """Poll the cluster until `expected` nodes are alive; fail early if a `ray start` process died."""
    import ray

    deadline = time.monotonic() + timeout_s
    alive = 0
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise ClusterStartError(
                    f"`{' '.join(process.args)}` exited with code {process.returncode} before the cluster formed"
                )
        if not _port_open(address):
            time.sleep(1.0)
            continue
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            alive = sum(1 for node in ray.nodes() if node["Alive"])
        except (ConnectionError, RuntimeError):
            alive = 0
        finally:
            ray.shutdown()
        if alive >= expected:
            log.info("Ray cluster at %s has %d node(s)", address, alive)
            return
        time.sleep(2.0)
    raise ClusterStartError(
        f"only {alive} of {expected} Ray nodes joined {address} within {timeout_s:.0f} s; "
        "check the worker nodes' logs, the network between nodes, or raise --join-timeout"
    )


def stop_processes(processes: list[subprocess.Popen], grace_s: float = 20.0) -> None:
    """SIGTERM every `ray start --block` (it stops the Ray processes it started), then SIGKILL stragglers."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_on_cluster(spec: ClusterSpec, command: list[str], join_timeout_s: float = 300.0) -> int:
    """Start the cluster described by `spec`, run `command` with RAY_ADDRESS set, tear down, return its code."""
    processes: list[subprocess.Popen] = []
    job: subprocess.Popen | None = None
    env = ray_environment()
    previous_sigterm = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        processes.append(subprocess.Popen(head_command(spec), env=env))
        wait_for_nodes(spec.address, 1, join_timeout_s, processes)
        for host in spec.hosts[1:]:
            processes.append(subprocess.Popen(worker_command(spec, host), env=env))
        wait_for_nodes(spec.address, len(spec.hosts), join_timeout_s, processes)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # ray.init/shutdown above replaced it
        job = subprocess.Popen(command, env=dict(env, RAY_ADDRESS=spec.address))
        return job.wait()
    finally:
        # On Ctrl-C or SIGTERM the job goes first, so it never outlives the cluster it runs on.
        stop_processes(([job] if job is not None else []) + processes)
        signal.signal(signal.SIGTERM, previous_sigterm)


def planned_commands(spec: ClusterSpec, command: list[str]) -> list[list[str]]:
    """What `run_on_cluster` runs, in order: the head, a worker per other host, then the job."""
    return [head_command(spec), *(worker_command(spec, host) for host in spec.hosts[1:]),
            [f"RAY_ADDRESS={spec.address}", *command]]


def ray_environment() -> dict[str, str]:
    """The environment for `ray start` and the job, with two defaults a one-job cluster needs (each can be
    overridden by exporting it): token authentication off, because Ray >= 2.60 otherwise refuses a driver that
    does not hold the token `ray start` just wrote; and Ray's workers at normal priority instead of nice 15,
    which starves the training actors on a machine that runs anything else."""
    env = dict(os.environ)
    env.setdefault("RAY_AUTH_MODE", "disabled")
    env.setdefault("RAY_worker_niceness", "0")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return env


def spec_from_environment(args: argparse.Namespace) -> ClusterSpec:
    """Inside a Slurm job use every allocated node; elsewhere a single local head node."""
    nodelist = os.environ.get("SLURM_JOB_NODELIST")
    in_slurm = bool(nodelist) and not args.local
    hosts = slurm_hosts(nodelist) if in_slurm else ["localhost"]
    head_ip = resolve_head_ip(hosts[0], use_srun=in_slurm) if in_slurm else "127.0.0.1"
    return ClusterSpec(
        hosts=hosts,
        head_ip=head_ip,
        port=args.port,
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        temp_dir=args.temp_dir,
        use_srun=in_slurm,
    )


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" not in argv:
        raise SystemExit("usage: python -m maxrl.launch.ray_cluster [options] -- COMMAND [ARGS...]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m maxrl.launch.ray_cluster", description=__doc__)
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs Ray may use per node")
    parser.add_argument("--num-gpus", type=int, default=None, help="GPUs Ray may use per node")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAY_PORT", DEFAULT_PORT)))
    parser.add_argument("--temp-dir", default=os.environ.get("RAY_TMPDIR"), help="Ray's session folder root")
    parser.add_argument("--join-timeout", type=float, default=300.0, help="seconds to wait for all nodes")
    parser.add_argument("--local", action="store_true", help="ignore Slurm and start a local head node")
    parser.add_argument("--dry-run", action="store_true", help="print the commands for every node; start nothing")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("no command after `--`")
    return args, command


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[maxrl.launch] %(message)s")
    args, command = parse_args(sys.argv[1:] if argv is None else argv)
    spec = spec_from_environment(args)
    if args.dry_run:
        # The plan is the dry run's product (scripts and tests read it), so it goes to stdout, not the log.
        sys.stdout.write("".join(" ".join(line) + "\n" for line in planned_commands(spec, command)))
        return 0
    log.info("starting Ray on %d node(s): %s", len(spec.hosts), ", ".join(spec.hosts))
    try:
        return run_on_cluster(spec, command, join_timeout_s=args.join_timeout)
    except ClusterStartError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
