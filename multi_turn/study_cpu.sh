#!/usr/bin/env bash
# The multi-turn study of docs/multi_turn.md: the calculator tool task and the multi-attempt maze, MaxRL and
# GRPO, several seeds, one run after another. Rerunning resumes: finished runs (.done) are skipped and an
# interrupted one continues from its last checkpoint. Then the summary: evidence/multi_turn/.
#
#   bash multi_turn/study_cpu.sh
#   TASKS=calculator SEEDS="1 2" bash multi_turn/study_cpu.sh
#
# Optional: MAXRL_OUTPUT_DIR (./outputs), TASKS ("calculator maze_attempts"), METHODS ("maxrl grpo"),
# SEEDS ("1 2 3"), STUDY_OUT (evidence/multi_turn); the launchers' own variables (STEPS, LR, ...) pass through.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUTPUT="${MAXRL_OUTPUT_DIR:-./outputs}"
STUDY="$OUTPUT/multi_turn_study"
for task in ${TASKS:-calculator maze_attempts}; do
  for seed in ${SEEDS:-1 2 3}; do
    for method in ${METHODS:-maxrl grpo}; do
      run="$STUDY/$task/rl_${method}_seed$seed"
      [ -e "$run/.done" ] && continue
      mkdir -p "$run"
      ADVANTAGE_ESTIMATOR="$method" SEED="$seed" RUN_DIR="$run" bash "$HERE/${task}_cpu.sh" > "$run.log" 2>&1 \
        || { echo "the $task run $method seed $seed failed; its log: $run.log" >&2; exit 1; }
      touch "$run/.done"
      echo "finished $run"
    done
  done
done
python3 -m maxrl.experiments.multi_turn_study "$STUDY" --out "${STUDY_OUT:-evidence/multi_turn}"
