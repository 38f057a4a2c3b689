# Shared helpers for the experiment launchers (sourced, not executed).
#
# Every launcher reads its paths and sizes from environment variables, checks them before anything
# starts, forwards "$@" as extra Hydra overrides, and honours DRY_RUN=1 (print the composed config, exit).

maxrl_die() {
  echo "error: $*" >&2
  exit 2
}

# maxrl_require_env NAME "what it is" : the variable must be set and non-empty.
maxrl_require_env() {
  [ -n "${!1:-}" ] || maxrl_die "$1 is not set: $2 (export $1=...)"
}

# maxrl_require_path NAME "what it is" : the variable must name an existing file or folder.
maxrl_require_path() {
  maxrl_require_env "$1" "$2"
  [ -e "${!1}" ] || maxrl_die "$1=${!1} does not exist: $2"
}

# maxrl_require_int NAME : a positive whole number.
maxrl_require_int() {
  [[ "${!1:-}" =~ ^[1-9][0-9]*$ ]] || maxrl_die "$1=${!1:-} must be a positive whole number"
}

# maxrl_check_estimator : ADVANTAGE_ESTIMATOR is one the paper compares (default maxrl).
maxrl_check_estimator() {
  ADVANTAGE_ESTIMATOR="${ADVANTAGE_ESTIMATOR:-maxrl}"
  case "$ADVANTAGE_ESTIMATOR" in
    maxrl|grpo|rloo) ;;
    *) maxrl_die "ADVANTAGE_ESTIMATOR=$ADVANTAGE_ESTIMATOR: choose maxrl, grpo or rloo (or pass algorithm.adv_estimator=... as an override)" ;;
  esac
}

# maxrl_train OVERRIDES... : run the trainer on a Ray cluster started for this job (local, or every node
# of the Slurm allocation), or only print the composed config when DRY_RUN=1.
maxrl_train() {
  local python="${PYTHON:-python3}"
  if [ "${DRY_RUN:-0}" = "1" ]; then
    exec "$python" -m maxrl.trainer.main_ppo "$@" --cfg job
  fi
  exec "$python" -m maxrl.launch.ray_cluster ${RAY_NUM_GPUS:+--num-gpus "$RAY_NUM_GPUS"} \
    ${RAY_NUM_CPUS:+--num-cpus "$RAY_NUM_CPUS"} -- "$python" -m maxrl.trainer.main_ppo "$@"
}

# maxrl_require_file PATH "how to make it" : a specific file must exist.
maxrl_require_file() {
  [ -e "$1" ] || maxrl_die "$1 does not exist: $2"
}
