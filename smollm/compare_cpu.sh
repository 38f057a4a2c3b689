#!/usr/bin/env bash
# MaxRL against GRPO on the real SmolLM2-135M-Instruct, several seeds, on one short-answer task
# (docs/evidence.md, "SmolLM2-135M"): every run is composed by smollm/smollm_cpu.sh, so it trains exactly what
# that launcher trains; within a seed the methods share the data order and sampling seed, only the estimator
# differs. It is maze/compare_cpu.sh with LAUNCHER=smollm/smollm_cpu.sh and these defaults:
#
#   TASK=arith_1d bash smollm/compare_cpu.sh                 # 2 methods x 3 seeds, N = 16
#   TASK=chain_sum_3 SEEDS="1 2" bash smollm/compare_cpu.sh  # a harder task (pass@1 ~5% before RL), 2 seeds
#
# Defaults: METHODS ("maxrl grpo"), ROLLOUT_NS (16), SEEDS ("1 2 3"), STEPS (20), VAL_N (8 samples for each of
# smollm_cpu.sh's 64 test problems); smollm_cpu.sh's TRAIN_BATCH, LR, SMOLLM_MODEL and the rest pass through.
# Outputs under $MAXRL_OUTPUT_DIR/smollm_cpu/compare_<TASK> (STUDY_ROOT); after each seed the finished runs are
# archived and summarised in evidence/smollm_<TASK> (STUDY_OUT), so the comparison accumulates across sessions.
# Rerunning resumes. Needs the converted model (smollm_cpu.sh makes it on first use; docs/experiments.md).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
export TASK="${TASK:-arith_1d}"
export METHODS="${METHODS:-maxrl grpo}" ROLLOUT_NS="${ROLLOUT_NS:-16}" SEEDS="${SEEDS:-1 2 3}"
export STEPS="${STEPS:-20}" VAL_N="${VAL_N:-8}"
OUTPUT="${MAXRL_OUTPUT_DIR:-./outputs}"
ROOT="${STUDY_ROOT:-$OUTPUT/smollm_cpu/compare_$TASK}" STUDY_OUT="${STUDY_OUT:-evidence/smollm_$TASK}"
ARCHIVE="$STUDY_OUT" COMPARE_ROOT="$ROOT" STUDY_OUT="$ROOT/summary" LAUNCHER="$HERE/smollm_cpu.sh" \
  exec bash "$HERE/../maze/compare_cpu.sh" "$@"
