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
# The study outlasts a working session, so it accumulates in the repository: after training, every finished
# run's validation counts and config are copied into $STUDY_OUT/runs (python -m maxrl.experiments.run_archive,
# a few KiB per run), and the summary (pass_at_k.png, learning_curves.png, table.md, results.json,
# summary.json) is made from that archive, so it holds every run any session finished. Rerunning resumes:
# finished runs are skipped, an interrupted one starts again. It is maze/compare_cpu.sh with these defaults
# (METHODS, ROLLOUT_NS, SEEDS, STEPS, LR, TRAIN_BATCH, VAL_MAZES, VAL_N, WARM_START_STEP, TEST_FREQ can be
# overridden); outputs under $MAXRL_OUTPUT_DIR/maze_cpu/regime (STUDY_ROOT), summary in evidence/maze_regime
# (STUDY_OUT).
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
export METHODS="${METHODS:-maxrl grpo rloo}" ROLLOUT_NS="${ROLLOUT_NS:-16 64}" SEEDS="${SEEDS:-1 2 3 4 5}"
export STEPS="${STEPS:-200}" LR="${LR:-3e-5}" TRAIN_BATCH="${TRAIN_BATCH:-8}" WARM_START_STEP="${WARM_START_STEP:-200}"
export VAL_MAZES="${VAL_MAZES:-256}" VAL_N="${VAL_N:-256}" TEST_FREQ="${TEST_FREQ:-50}"
OUTPUT="${MAXRL_OUTPUT_DIR:-./outputs}"
export VAL_DATA="${VAL_DATA:-$OUTPUT/maze_cpu/data/heldout/test.parquet}"
ROOT="${STUDY_ROOT:-$OUTPUT/maze_cpu/regime}" STUDY_OUT="${STUDY_OUT:-evidence/maze_regime}"
PYTHON="${PYTHON:-python3}"
# One seed at a time, archived and summarised after each, so a session that ends mid-study keeps every
# finished seed. compare_cpu.sh summarises this session's runs in $ROOT/summary; the archive's summary is
# the study's. 16 mazes x 256 samples per validation call keeps the sampler's memory near 1 GiB.
for seed in $SEEDS; do
  COMPARE_ROOT="$ROOT" STUDY_OUT="$ROOT/summary" SEEDS="$seed" bash "$HERE/compare_cpu.sh" \
    data.val_batch_size=16 trainer.test_freq="$TEST_FREQ" "$@"
  [ "${DRY_RUN:-0}" = "1" ] && continue  # configs composed in $ROOT/configs; nothing trained
  "$PYTHON" -m maxrl.experiments.run_archive "$ROOT" "$STUDY_OUT/runs"
  "$PYTHON" -m maxrl.experiments.maze_compare "$STUDY_OUT/runs" --out "$STUDY_OUT"
done
