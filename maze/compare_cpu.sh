#!/usr/bin/env bash
# MaxRL against GRPO and RLOO on 9x9 mazes at CPU scale (docs/evidence.md): from one warm-started model,
# every run gets identical data order, steps, batch, learning rate, rollouts per prompt and seed; only the
# advantage estimator differs. Each final model is then scored with VAL_N samples per test maze.
#
#   bash maze/compare_cpu.sh                      # ~30 min of RL on 2 quiet cores (+ ~15 min warm start once)
#   SFT_MODEL=outputs/maze_cpu/sft/checkpoint-400 SEEDS="1 2 3" bash maze/compare_cpu.sh
#
# Every run is composed by maze/maze_cpu.sh (DRY_RUN=1 prints its config), so the study trains exactly what
# that launcher trains; the launcher itself first makes the data and the warm start if needed and validates
# the starting model. The training runs then go one after another in one process on one Ray cluster
# (python -m maxrl.experiments.run_configs), which saves a Ray start per run; one such process per seed.
# Writes under $MAXRL_OUTPUT_DIR/maze_cpu/compare: warm_start/, n<N>/<method>_seed<S>/ (one run folder
# each), configs/, logs/, and the summary in $STUDY_OUT (default .../compare/summary): pass_at_k.png,
# table.md, results.json (python -m maxrl.experiments.maze_compare). A finished run is skipped, so a rerun
# resumes the study.
# Optional: COMPARE_ROOT (the folder above), METHODS ("maxrl grpo rloo"), ROLLOUT_NS ("4 16"), SEEDS ("1 2"), STEPS (10), VAL_N (64),
# PARALLEL_SEEDS=1 (train each seed's runs in its own process at the same time: on a machine shared with
# other jobs this gets the study a larger share of the cores), SFT_MODEL, and maze_cpu.sh's TRAIN_BATCH,
# LR, VAL_DATA, VAL_MAZES; DRY_RUN=1 composes every config and stops; extra arguments are Hydra overrides for every run.
# ARCHIVE=DIR, for a study that outlasts a working session: after each seed (and at the end), copy the
# finished runs' validation counts and configs into DIR/runs (python -m maxrl.experiments.run_archive, tens of
# KiB per run, meant to be committed) and summarise that archive into DIR, so it holds every run any
# session finished.
# LAUNCHER (maze/maze_cpu.sh) composes the runs: any CPU launcher that takes ADVANTAGE_ESTIMATOR, ROLLOUT_N,
# SEED, RUN_DIR and DRY_RUN the same way compares on its task (smollm/compare_cpu.sh: SmolLM2-135M).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
LAUNCHER="${LAUNCHER:-$HERE/maze_cpu.sh}"
source "$HERE/../maxrl/launch/launcher.sh"
source "$HERE/../maxrl/experiments/cpu_launch.sh"

maxrl_cpu_env
ROOT="${COMPARE_ROOT:-${MAXRL_OUTPUT_DIR:-./outputs}/maze_cpu/compare}"
STUDY_OUT="${STUDY_OUT:-$ROOT/summary}"
METHODS="${METHODS:-maxrl grpo rloo}" ROLLOUT_NS="${ROLLOUT_NS:-4 16}" SEEDS="${SEEDS:-1 2}"
export STEPS="${STEPS:-10}" VAL_N="${VAL_N:-64}"
maxrl_require_int STEPS
maxrl_require_int VAL_N
for method in $METHODS; do ADVANTAGE_ESTIMATOR="$method" maxrl_check_estimator; done
for value in $ROLLOUT_NS $SEEDS; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || maxrl_die "ROLLOUT_NS and SEEDS take positive whole numbers, got '$value'"
done
mkdir -p "$ROOT/logs" "$ROOT/configs"
log() { echo "[compare] $(date -u +%H:%M:%S) $*"; }

maxrl_validate_warm_start "$ROOT" "$LAUNCHER" "$@"

composed=0
for seed in $SEEDS; do
  for n in $ROLLOUT_NS; do
    for method in $METHODS; do
      config="$ROOT/configs/n${n}_${method}_seed${seed}.yaml"
      DRY_RUN=1 ADVANTAGE_ESTIMATOR="$method" ROLLOUT_N="$n" SEED="$seed" RUN_DIR="$ROOT/n$n/${method}_seed$seed" \
        bash "$LAUNCHER" trainer.val_before_train=False "$@" > "$config" \
        || maxrl_die "composing $config failed"
      composed=$((composed + 1))
    done
  done
done
log "$composed runs composed in $ROOT/configs"
[ "${DRY_RUN:-0}" = "1" ] && exit 0

# train_seed SEED : every run of one seed, in order, in one process on its own Ray cluster.
train_seed() {
  local configs=()
  for n in $ROLLOUT_NS; do for method in $METHODS; do configs+=("$ROOT/configs/n${n}_${method}_seed$1.yaml"); done; done
  local log_file="$ROOT/logs/training_seed$1_n${ROLLOUT_NS// /-}.log"
  log "training seed $1 (log: $log_file)"
  RAY_PORT="$(maxrl_free_port)" "$PYTHON" -m maxrl.launch.ray_cluster --num-cpus "${RAY_NUM_CPUS:-2}" -- \
    "$PYTHON" -m maxrl.experiments.run_configs "${configs[@]}" > "$log_file" 2>&1 \
    || maxrl_die "training seed $1 failed; see $log_file"
}
# archive : with ARCHIVE set, keep the finished runs in the archive and summarise all of it.
archive() {
  [ -n "${ARCHIVE:-}" ] || return 0
  "$PYTHON" -m maxrl.experiments.run_archive "$ROOT" "$ARCHIVE/runs"
  "$PYTHON" -m maxrl.experiments.maze_compare "$ARCHIVE/runs" --out "$ARCHIVE" > /dev/null
  log "archived finished runs in $ARCHIVE/runs; its summary: $ARCHIVE/table.md"
}
pids=()
for seed in $SEEDS; do
  if [ "${PARALLEL_SEEDS:-0}" = "1" ]; then
    train_seed "$seed" & pids+=("$!")
    sleep 90  # two Ray head nodes starting at once on a loaded machine can time out
  else
    train_seed "$seed"
    archive
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || maxrl_die "a training process failed (logs in $ROOT/logs)"; done
archive
"$PYTHON" -m maxrl.experiments.maze_compare "$ROOT" --out "$STUDY_OUT"
log "plot: $STUDY_OUT/pass_at_k.png  table: $STUDY_OUT/table.md"
