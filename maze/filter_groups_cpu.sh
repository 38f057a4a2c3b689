#!/usr/bin/env bash
# Dynamic sampling on 9x9 mazes at CPU scale (docs/algorithms.md, "Dynamic sampling on the maze"): MaxRL and
# GRPO at N = 16 rollouts per maze, each with algorithm.filter_groups off and on, from one warm-started model;
# every run of a seed shares the data order, batch, learning rate and sampling seed. Validation every
# TEST_FREQ steps; the summary puts pass@1 and pass@VAL_N against the samples generated (not steps).
#
#   bash maze/filter_groups_cpu.sh                     # data + warm start on first use (maze_cpu.sh), then RL
#   SEEDS="1" STEPS=10 bash maze/filter_groups_cpu.sh  # a shorter study
#
# Every run is composed by maze/maze_cpu.sh (DRY_RUN=1), so it trains exactly what that launcher trains. The
# runs of one seed go one after another in one process on one Ray cluster (python -m
# maxrl.experiments.run_configs); a finished run (its .done marker) is skipped, so a rerun resumes the study.
# Writes under $MAXRL_OUTPUT_DIR/maze_cpu/filter_groups: warm_start/, <method>_filter_<off|on>_seed<S>/,
# configs/, logs/, and summary/ (table.md, results.json, samples.png: python -m maxrl.experiments.filter_groups_study).
# Optional: STUDY_ROOT (the folder above), METHODS ("maxrl grpo"), FILTERS ("off on"), SEEDS ("1 2 3"),
# STEPS (20), TEST_FREQ (5), ROLLOUT_N (16), VAL_N (16), SFT_MODEL, and maze_cpu.sh's TRAIN_BATCH, LR, VAL_DATA,
# VAL_MAZES; DRY_RUN=1 composes every config and stops; extra arguments are Hydra overrides for every run.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/../maxrl/launch/launcher.sh"
source "$HERE/../maxrl/experiments/cpu_launch.sh"

maxrl_cpu_env
ROOT="${STUDY_ROOT:-${MAXRL_OUTPUT_DIR:-./outputs}/maze_cpu/filter_groups}"
METHODS="${METHODS:-maxrl grpo}" FILTERS="${FILTERS:-off on}" SEEDS="${SEEDS:-1 2 3}"
export STEPS="${STEPS:-20}" ROLLOUT_N="${ROLLOUT_N:-16}" VAL_N="${VAL_N:-16}"
TEST_FREQ="${TEST_FREQ:-5}"
for name in STEPS ROLLOUT_N VAL_N TEST_FREQ; do maxrl_require_int "$name"; done
for method in $METHODS; do ADVANTAGE_ESTIMATOR="$method" maxrl_check_estimator; done
for filter in $FILTERS; do [[ "$filter" =~ ^(on|off)$ ]] || maxrl_die "FILTERS takes on and off, got '$filter'"; done
for seed in $SEEDS; do [[ "$seed" =~ ^[1-9][0-9]*$ ]] || maxrl_die "SEEDS takes positive whole numbers, got '$seed'"; done
mkdir -p "$ROOT/logs" "$ROOT/configs"
log() { echo "[filter_groups] $(date -u +%H:%M:%S) $*"; }

maxrl_validate_warm_start "$ROOT" "$HERE/maze_cpu.sh" "$@"

# filter_overrides on|off : the dynamic-sampling keys of one arm (rounds of one train batch, no round limit).
filter_overrides() {
  if [ "$1" = "on" ]; then
    echo "algorithm.filter_groups.enable=true algorithm.filter_groups.metric=acc algorithm.filter_groups.max_num_gen_batches=0"
  else
    echo "algorithm.filter_groups.enable=false"
  fi
}

for seed in $SEEDS; do
  for method in $METHODS; do
    for filter in $FILTERS; do
      name="${method}_filter_${filter}_seed${seed}"
      # shellcheck disable=SC2046  # the overrides are words by design
      DRY_RUN=1 ADVANTAGE_ESTIMATOR="$method" SEED="$seed" RUN_DIR="$ROOT/$name" \
        bash "$HERE/maze_cpu.sh" trainer.val_before_train=False trainer.test_freq="$TEST_FREQ" \
        trainer.experiment_name="maze9_filter_groups_$name" $(filter_overrides "$filter") "$@" \
        > "$ROOT/configs/$name.yaml" || maxrl_die "composing $ROOT/configs/$name.yaml failed"
    done
  done
done
log "configs composed in $ROOT/configs"
[ "${DRY_RUN:-0}" = "1" ] && exit 0

for seed in $SEEDS; do
  configs=()
  for method in $METHODS; do for filter in $FILTERS; do configs+=("$ROOT/configs/${method}_filter_${filter}_seed$seed.yaml"); done; done
  log_file="$ROOT/logs/training_seed$seed.log"
  log "training seed $seed (log: $log_file)"
  RAY_PORT="$(maxrl_free_port)" "$PYTHON" -m maxrl.launch.ray_cluster --num-cpus "${RAY_NUM_CPUS:-2}" -- \
    "$PYTHON" -m maxrl.experiments.run_configs "${configs[@]}" > "$log_file" 2>&1 \
    || maxrl_die "training seed $seed failed; see $log_file"
done
"$PYTHON" -m maxrl.experiments.filter_groups_study "$ROOT" --out "$ROOT/summary"
log "table: $ROOT/summary/table.md  plot: $ROOT/summary/samples.png"
