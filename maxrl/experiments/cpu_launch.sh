# Shared helpers for the CPU-scale experiment launchers (sourced after maxrl/launch/launcher.sh).

# maxrl_cpu_env : settings every CPU run needs on a small shared machine.
maxrl_cpu_env() {
  PYTHON="${PYTHON:-python3}"
  # One intra-op thread per process: the FSDP workers and the reward pool share a few cores.
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" HF_HUB_OFFLINE=1 WANDB_MODE="${WANDB_MODE:-offline}"
  # A private local Ray without a token (Ray >= 2.60 turns token auth on, and `ray start` then refuses
  # its own driver) on a free port, so that other jobs on the machine cannot collide with it.
  export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" RAY_USAGE_STATS_ENABLED=0
  # Ray starts its workers at nice 15, which starves the training actors on a machine shared with other jobs.
  export RAY_worker_niceness="${RAY_worker_niceness:-0}"
  # ... and on such a machine the raylet can take longer than Ray's default 30 s to register.
  export RAY_raylet_start_wait_time_s="${RAY_raylet_start_wait_time_s:-180}"
  export RAY_PORT="${RAY_PORT:-$(maxrl_free_port)}"
}

# maxrl_free_port : a TCP port nobody listens on now.
maxrl_free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

# maxrl_cpu_train_and_summarise RUN_DIR OVERRIDES... : train (maxrl_train replaces its shell, so it runs in a
# subshell), then print the run's pass@k table: the validation before the first step and after the last.
maxrl_cpu_train_and_summarise() {
  local run_dir="$1"; shift
  ( maxrl_train trainer.default_local_dir="$run_dir" "$@" )
  if [ "${DRY_RUN:-0}" != "1" ]; then
    echo "pass@k on the validation set (first line: before training, last line: after):"
    "$PYTHON" -m maxrl.trainer.plots summary "$run_dir"
  fi
}

# maxrl_validate_warm_start ROOT LAUNCHER OVERRIDES... : a study's starting model, validated once by LAUNCHER
# (trainer.val_only) into ROOT/warm_start and marked done; with DRY_RUN=1 it only composes that config.
maxrl_validate_warm_start() {
  local root="$1" launcher="$2"; shift 2
  if [ "${DRY_RUN:-0}" = "1" ] || [ ! -e "$root/warm_start/.done" ]; then
    echo "[study] $(date -u +%H:%M:%S) warm start: data, model and its validation (log: $root/logs/warm_start.log)"
    RUN_DIR="$root/warm_start" bash "$launcher" trainer.val_only=True "$@" > "$root/logs/warm_start.log" 2>&1 \
      || maxrl_die "the warm-start validation failed; see $root/logs/warm_start.log"
    [ "${DRY_RUN:-0}" = "1" ] || touch "$root/warm_start/.done"
  fi
}
