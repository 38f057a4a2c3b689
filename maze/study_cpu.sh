#!/usr/bin/env bash
# The maze study of docs/evidence.md: MaxRL, GRPO and RLOO from one warm start, 200 steps of 8 mazes at
# N = 4, 16 and 64 rollouts per maze (equal prompts per step), 5 seeds, each final model scored with 256
# samples on 256 held-out mazes (pass@k to k = 256). One command; rerunning it resumes: every finished run
# is skipped, an interrupted one starts again.
#
#   bash maze/study_cpu.sh                     # ~2 h on 2 idle cores once data and warm start exist
#   SEEDS="1 2" ROLLOUT_NS="4 16" bash maze/study_cpu.sh   # a part of it
#
# It is maze/compare_cpu.sh with the study's settings as defaults (each can be overridden the same way:
# METHODS, ROLLOUT_NS, SEEDS, STEPS, LR, TRAIN_BATCH, VAL_MAZES, VAL_N, SFT_MODEL); the learning rate 3e-5
# is where GRPO improves pass@1 over the warm start in 200 steps (docs/evidence.md). Outputs under
# $MAXRL_OUTPUT_DIR/maze_cpu/study (override with STUDY_ROOT); the summary in $STUDY_OUT
# (default evidence/maze_study).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
export METHODS="${METHODS:-maxrl grpo rloo}" ROLLOUT_NS="${ROLLOUT_NS:-4 16 64}" SEEDS="${SEEDS:-1 2 3 4 5}"
export STEPS="${STEPS:-200}" LR="${LR:-3e-5}" TRAIN_BATCH="${TRAIN_BATCH:-8}"
export VAL_MAZES="${VAL_MAZES:-256}" VAL_N="${VAL_N:-256}"
OUTPUT="${MAXRL_OUTPUT_DIR:-./outputs}"
export VAL_DATA="${VAL_DATA:-$OUTPUT/maze_cpu/data/heldout/test.parquet}"
export COMPARE_ROOT="${STUDY_ROOT:-$OUTPUT/maze_cpu/study}" STUDY_OUT="${STUDY_OUT:-evidence/maze_study}"
# 16 mazes x 256 samples per validation call keeps the sampler's memory near 1 GiB.
exec bash "$HERE/compare_cpu.sh" data.val_batch_size=16 "$@"
