#!/usr/bin/env bash
# MaxRL against GRPO and RLOO on 9x9 mazes at CPU scale (docs/evidence.md): from one warm-started model,
# every run gets identical data order, steps, batch, learning rate, rollouts per prompt and seed; only the
# advantage estimator differs. Each final model is then scored with VAL_N samples per test maze.
#
#   bash maze/compare_cpu.sh                      # ~1 hour on 2 free cores
#   SFT_MODEL=outputs/maze_cpu/sft/checkpoint-400 SEEDS="1 2 3" bash maze/compare_cpu.sh
#
# Every run goes through maze/maze_cpu.sh (which also makes the data and the warm start on first use), so
# the study trains exactly what that launcher trains. Writes under $MAXRL_OUTPUT_DIR/maze_cpu/compare:
#   warm_start/ (a validation-only run of the starting model), n<N>/<method>_seed<S>/ (one run each),
#   logs/, and the summary in $STUDY_OUT (default $MAXRL_OUTPUT_DIR/maze_cpu/compare/summary):
#   pass_at_k.png, table.md, results.json (python -m maxrl.experiments.maze_compare).
# Optional: METHODS ("maxrl grpo rloo"), ROLLOUT_NS ("8 32"), SEEDS ("1 2"), STEPS (10), VAL_N (64),
# plus maze_cpu.sh's TRAIN_BATCH, LR, VAL_MAZES; DRY_RUN=1 prints the plan and each run's config; extra
# arguments are Hydra overrides for every run. A finished run (its last validation written) is skipped.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
source "$HERE/../maxrl/launch/launcher.sh"

PYTHON="${PYTHON:-python3}"
ROOT="${MAXRL_OUTPUT_DIR:-./outputs}/maze_cpu/compare"
STUDY_OUT="${STUDY_OUT:-$ROOT/summary}"
METHODS="${METHODS:-maxrl grpo rloo}"
ROLLOUT_NS="${ROLLOUT_NS:-8 32}"
SEEDS="${SEEDS:-1 2}"
export STEPS="${STEPS:-10}" VAL_N="${VAL_N:-64}"
maxrl_require_int STEPS
maxrl_require_int VAL_N
for method in $METHODS; do ADVANTAGE_ESTIMATOR="$method" maxrl_check_estimator; done
for value in $ROLLOUT_NS $SEEDS; do [[ "$value" =~ ^[1-9][0-9]*$ ]] || maxrl_die "ROLLOUT_NS and SEEDS take positive whole numbers, got '$value'"; done
mkdir -p "$ROOT/logs"

# run NAME RUN_DIR [ENV=VALUE...] -- [OVERRIDES...] : one maze_cpu.sh run, logged, skipped when finished.
run() {
  local name="$1" run_dir="$2"; shift 2
  local env=()
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  if [ "${DRY_RUN:-0}" != "1" ] && ls "$run_dir"/validation/step_*.json > /dev/null 2>&1 \
      && [ -e "$run_dir/.done" ]; then
    echo "[compare] $name: already finished, skipped"
    return
  fi
  echo "[compare] $(date -u +%H:%M:%S) $name -> $run_dir (log: $ROOT/logs/$name.log)"
  env "${env[@]}" RUN_DIR="$run_dir" bash "$HERE/maze_cpu.sh" "$@" > "$ROOT/logs/$name.log" 2>&1 \
    || maxrl_die "$name failed; see $ROOT/logs/$name.log"
  [ "${DRY_RUN:-0}" = "1" ] || touch "$run_dir/.done"
}

run warm_start "$ROOT/warm_start" ADVANTAGE_ESTIMATOR=maxrl -- trainer.val_only=True "$@"
for seed in $SEEDS; do
  for n in $ROLLOUT_NS; do
    for method in $METHODS; do
      run "n${n}_${method}_seed${seed}" "$ROOT/n$n/${method}_seed$seed" \
        ADVANTAGE_ESTIMATOR="$method" ROLLOUT_N="$n" SEED="$seed" -- trainer.val_before_train=False "$@"
    done
  done
done
[ "${DRY_RUN:-0}" = "1" ] && exit 0
"$PYTHON" -m maxrl.experiments.maze_compare "$ROOT" --out "$STUDY_OUT"
echo "[compare] $(date -u +%H:%M:%S) plot: $STUDY_OUT/pass_at_k.png  table: $STUDY_OUT/table.md"
