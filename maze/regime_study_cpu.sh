#!/usr/bin/env bash
# The maze study in the regime of docs/evidence.md ("The regime study"), chosen by the probes recorded there:
# MaxRL, GRPO and RLOO from one weaker warm start (the SFT recipe's checkpoint at step 200 of 400), 200 steps
# of 8 mazes at N = 16 and 64 rollouts per maze (equal prompts per step), lr 3e-5, 5 seeds; every 50 steps
# (and at the end) each model draws 256 samples for each of 256 held-out mazes, so the learning curves and
# the final pass@k run to k = 256.
#
#   bash maze/regime_study_cpu.sh                            # all of it: ~6 h on 2 cores (N = 64 is 4/5 of it)
#   SEEDS="1 2" ROLLOUT_NS=16 bash maze/regime_study_cpu.sh  # a part of it; run parts side by side
#
# The study outlasts a working session, so it accumulates in the repository: after each seed, every finished
# run's validation counts and config are copied into $STUDY_OUT/runs (compare_cpu.sh's ARCHIVE, ~50 KiB
# per run), and the summary (pass_at_k.png, learning_curves.png, table.md, results.json, summary.json) is
# made from that archive, so it holds every run any session finished. Rerunning resumes:
# finished runs are skipped, an interrupted one starts again. It is maze/compare_cpu.sh with these defaults
# (METHODS, ROLLOUT_NS, SEEDS, STEPS, LR, TRAIN_BATCH, VAL_MAZES, VAL_N, WARM_START_STEP, TEST_FREQ can be
# overridden); outputs under $MAXRL_OUTPUT_DIR/maze_cpu/regime (STUDY_ROOT), summary in evidence/maze_regime_study
# (STUDY_OUT).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
export METHODS="${METHODS:-maxrl grpo rloo}" ROLLOUT_NS="${ROLLOUT_NS:-16 64}" SEEDS="${SEEDS:-1 2 3 4 5}"
export STEPS="${STEPS:-200}" LR="${LR:-3e-5}" TRAIN_BATCH="${TRAIN_BATCH:-8}" WARM_START_STEP="${WARM_START_STEP:-200}"
export VAL_MAZES="${VAL_MAZES:-256}" VAL_N="${VAL_N:-256}" TEST_FREQ="${TEST_FREQ:-50}"
OUTPUT="${MAXRL_OUTPUT_DIR:-./outputs}"
export VAL_DATA="${VAL_DATA:-$OUTPUT/maze_cpu/data/heldout/test.parquet}"
ROOT="${STUDY_ROOT:-$OUTPUT/maze_cpu/regime}" STUDY_OUT="${STUDY_OUT:-evidence/maze_regime_study}"
# 16 mazes x 256 samples per validation call keeps the sampler's memory near 1 GiB.
ARCHIVE="$STUDY_OUT" COMPARE_ROOT="$ROOT" STUDY_OUT="$ROOT/summary" exec bash "$HERE/compare_cpu.sh" \
  data.val_batch_size=16 trainer.test_freq="$TEST_FREQ" "$@"
