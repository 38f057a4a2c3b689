#!/usr/bin/env bash
# The calculator tool task at CPU scale (docs/multi_turn.md): multiply two 3-digit numbers; a calculator tool
# (verl tool config multi_turn/calculator_tools.yaml) makes it possible. Nothing is downloaded.
#
#   bash multi_turn/calculator_cpu.sh                           # data + warm start on first use, then RL
#   ADVANTAGE_ESTIMATOR=grpo SEED=2 bash multi_turn/calculator_cpu.sh
#
# Steps (each skipped when its output exists under $MAXRL_OUTPUT_DIR/calculator_cpu):
#   data/   python -m maxrl.tasks.calculator.data (20,000 training, 256 test problems)
#   sft/    python -m maxrl.tasks.calculator.warm_start: a 0.8M-parameter Qwen2 on synthetic transcripts, a
#           quarter of them calling the tool (so the warm start calls it on about a quarter of the problems)
#   rl_<estimator>_seed<S>/   the RL run: multi-turn episodes (tool call, tool answer, final answer)
# Validation reports pass@k and val-multi_turn/tool_call_rate of the policy before the first step, every
# TEST_FREQ steps and after the last.
#
# Optional: MAXRL_OUTPUT_DIR (./outputs), ADVANTAGE_ESTIMATOR (maxrl), ROLLOUT_N (8), STEPS (40), TRAIN_BATCH
# (16 problems per step), LR (1e-4), SEED (1), VAL_PROBLEMS (64), VAL_N (8), TEST_FREQ (10), N_WORKERS (1),
# WARM_STEPS (600), TOOL_FRACTION (0.25), RUN_DIR, DRY_RUN=1; extra arguments are Hydra overrides.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/experiments/cpu_launch.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${MAXRL_OUTPUT_DIR:-./outputs}/calculator_cpu"
DATA_DIR="$ROOT/data"
maxrl_cpu_env
maxrl_check_estimator
ROLLOUT_N="${ROLLOUT_N:-8}" STEPS="${STEPS:-40}" TRAIN_BATCH="${TRAIN_BATCH:-16}" SEED="${SEED:-1}"
VAL_PROBLEMS="${VAL_PROBLEMS:-64}" VAL_N="${VAL_N:-8}" TEST_FREQ="${TEST_FREQ:-10}" N_WORKERS="${N_WORKERS:-1}"
WARM_STEPS="${WARM_STEPS:-600}"
for name in ROLLOUT_N STEPS TRAIN_BATCH SEED VAL_PROBLEMS VAL_N TEST_FREQ N_WORKERS WARM_STEPS; do maxrl_require_int "$name"; done
LR="${LR:-1e-4}" TOOL_FRACTION="${TOOL_FRACTION:-0.25}"
SFT_MODEL="${SFT_MODEL:-$ROOT/sft}"
RUN_DIR="${RUN_DIR:-$ROOT/rl_${ADVANTAGE_ESTIMATOR}_seed${SEED}}"
VAL_FILE="$DATA_DIR/test_first${VAL_PROBLEMS}.parquet"

if [ "${DRY_RUN:-0}" != "1" ]; then
  [ -e "$DATA_DIR/train.parquet" ] || "$PYTHON" -m maxrl.tasks.calculator.data --output-dir "$DATA_DIR"
  [ -e "$SFT_MODEL/config.json" ] || "$PYTHON" -m maxrl.tasks.calculator.warm_start --data "$DATA_DIR/train.parquet" \
    --output-dir "$SFT_MODEL" --steps "$WARM_STEPS" --tool-fraction "$TOOL_FRACTION"
  [ -e "$VAL_FILE" ] || "$PYTHON" -c "import pandas, sys; pandas.read_parquet(sys.argv[1]).head(int(sys.argv[3])).to_parquet(sys.argv[2])" \
    "$DATA_DIR/test.parquet" "$VAL_FILE" "$VAL_PROBLEMS"
fi
RAY_NUM_CPUS="${RAY_NUM_CPUS:-$((N_WORKERS + 1))}"

maxrl_cpu_train_and_summarise "$RUN_DIR" \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$VAL_FILE" \
  data.train_batch_size="$TRAIN_BATCH" \
  data.max_prompt_length=48 \
  data.max_response_length=64 \
  data.seed="$SEED" \
  actor_rollout_ref.model.path="$SFT_MODEL" \
  actor_rollout_ref.actor.dtype=fp32 \
  actor_rollout_ref.actor.optim.lr="$LR" \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.rollout.dtype=fp32 \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N" \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=1.0 \
  actor_rollout_ref.rollout.multi_turn.enable=true \
  actor_rollout_ref.rollout.multi_turn.tool_config_path="$HERE/calculator_tools.yaml" \
  actor_rollout_ref.rollout.multi_turn.max_assistant_turns=3 \
  actor_rollout_ref.rollout.multi_turn.call_workers=1 \
  +reward_model.reward_kwargs.num_processes=1 \
  trainer.project_name=maxrl_multi_turn_cpu \
  trainer.experiment_name="calculator_${ADVANTAGE_ESTIMATOR}_seed${SEED}" \
  trainer.logger='[console,file]' \
  trainer.device=cpu \
  trainer.n_gpus_per_node="$N_WORKERS" \
  trainer.nnodes=1 \
  trainer.seed="$SEED" \
  trainer.total_training_steps="$STEPS" \
  trainer.test_freq="$TEST_FREQ" \
  trainer.save_freq="$TEST_FREQ" \
  "$@"
