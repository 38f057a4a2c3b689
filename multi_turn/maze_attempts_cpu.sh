#!/usr/bin/env bash
# The maze as a multi-attempt task at CPU scale (docs/multi_turn.md): 9x9 mazes; a wrong path is answered by
# the maze_feedback interaction (multi_turn/maze_feedback.yaml) with the moves that were fine and WALL where it
# first failed, up to ATTEMPTS attempts; the reward is the last attempt's. Nothing is downloaded.
#
#   bash multi_turn/maze_attempts_cpu.sh                        # data + warm start on first use, then RL
#   ADVANTAGE_ESTIMATOR=grpo SEED=2 bash multi_turn/maze_attempts_cpu.sh
#
# Steps (each skipped when its output exists under $MAXRL_OUTPUT_DIR/maze_attempts_cpu):
#   data/   python maze/generate_maze.py --size 9, then python -m maxrl.tasks.maze.attempts for each split
#   sft/    python maze/sft.py: the warm start of maze/maze_cpu.sh (WARM_STEPS steps), RETRY_FRACTION of its
#           answers being a failed attempt, its feedback and the path (python -m maxrl.tasks.maze.attempts
#           --retry-transcripts): the model learns to read feedback; only final attempts are trained
#   rl_<estimator>_seed<S>/   the RL run on multi-attempt episodes
#   rl_<estimator>_seed<S>/single_attempt/   the final policy validated on the same mazes with one attempt
#
# Optional: MAXRL_OUTPUT_DIR (./outputs), ADVANTAGE_ESTIMATOR (maxrl), ROLLOUT_N (8), STEPS (40), TRAIN_BATCH
# (16 mazes per step), LR (1e-4), SEED (1), ATTEMPTS (3), VAL_MAZES (64), VAL_N (8), TEST_FREQ (10),
# N_WORKERS (1), WARM_STEPS (400), RETRY_FRACTION (0.5), RUN_DIR, DRY_RUN=1; extra arguments are Hydra
# overrides of the RL run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/experiments/cpu_launch.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${MAXRL_OUTPUT_DIR:-./outputs}/maze_attempts_cpu"
DATA_DIR="$ROOT/data"
maxrl_cpu_env
maxrl_check_estimator
ROLLOUT_N="${ROLLOUT_N:-8}" STEPS="${STEPS:-40}" TRAIN_BATCH="${TRAIN_BATCH:-16}" SEED="${SEED:-1}"
ATTEMPTS="${ATTEMPTS:-3}" VAL_MAZES="${VAL_MAZES:-64}" VAL_N="${VAL_N:-8}" TEST_FREQ="${TEST_FREQ:-10}"
N_WORKERS="${N_WORKERS:-1}" WARM_STEPS="${WARM_STEPS:-400}"
for name in ROLLOUT_N STEPS TRAIN_BATCH SEED ATTEMPTS VAL_MAZES VAL_N TEST_FREQ N_WORKERS WARM_STEPS; do
  maxrl_require_int "$name"
done
LR="${LR:-1e-4}" RETRY_FRACTION="${RETRY_FRACTION:-0.5}"
SFT_MODEL="${SFT_MODEL:-$ROOT/sft/checkpoint-$WARM_STEPS}"
RUN_DIR="${RUN_DIR:-$ROOT/rl_${ADVANTAGE_ESTIMATOR}_seed${SEED}}"

if [ "${DRY_RUN:-0}" != "1" ]; then
  if [ ! -e "$DATA_DIR/attempts_val.parquet" ]; then
    "$PYTHON" maze/generate_maze.py --size 9 --num-mazes 20000 --test-size 128 --seed 0 --formats parquet \
      --no-progress --out "$DATA_DIR"
    "$PYTHON" -c "import pandas, sys; pandas.read_parquet(sys.argv[1]).head(int(sys.argv[3])).to_parquet(sys.argv[2])" \
      "$DATA_DIR/test.parquet" "$DATA_DIR/val.parquet" "$VAL_MAZES"
    for split in train val; do
      "$PYTHON" -m maxrl.tasks.maze.attempts "$DATA_DIR/$split.parquet" "$DATA_DIR/attempts_$split.parquet"
    done
  fi
  [ -e "$DATA_DIR/retry_sft.parquet" ] || "$PYTHON" -m maxrl.tasks.maze.attempts "$DATA_DIR/train.parquet" \
    "$DATA_DIR/retry_sft.parquet" --retry-transcripts "$RETRY_FRACTION"
  [ -e "$SFT_MODEL/config.json" ] || "$PYTHON" maze/sft.py --train-data "$DATA_DIR/retry_sft.parquet" \
    --test-data "$DATA_DIR/val.parquet" --output-dir "$ROOT/sft" --max-steps "$WARM_STEPS" --hidden-size 128 \
    --intermediate-size 512 --num-layers 2 --micro-batch-size 32 --learning-rate 1e-3 --eval-every 0 \
    --eval-num-mazes 64 --eval-n 8 --eval-ks 1 8 --save-every 0 --no-progress --num-threads 1 --device cpu
fi
RAY_NUM_CPUS="${RAY_NUM_CPUS:-$((N_WORKERS + 1))}"

COMMON=(
  data.max_prompt_length=128
  data.apply_chat_template=False
  actor_rollout_ref.actor.dtype=fp32
  actor_rollout_ref.rollout.dtype=fp32
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N"
  actor_rollout_ref.rollout.val_kwargs.do_sample=True
  actor_rollout_ref.rollout.val_kwargs.temperature=1.0
  +reward_model.reward_kwargs.num_processes=1
  trainer.logger='[console,file]'
  trainer.device=cpu
  trainer.n_gpus_per_node="$N_WORKERS"
  trainer.nnodes=1
  trainer.seed="$SEED"
)
maxrl_cpu_train_and_summarise "$RUN_DIR" "${COMMON[@]}" \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  data.train_files="$DATA_DIR/attempts_train.parquet" \
  data.val_files="$DATA_DIR/attempts_val.parquet" \
  data.train_batch_size="$TRAIN_BATCH" \
  data.max_response_length=$((ATTEMPTS * 40)) \
  data.seed="$SEED" \
  actor_rollout_ref.model.path="$SFT_MODEL" \
  actor_rollout_ref.actor.optim.lr="$LR" \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.multi_turn.enable=true \
  actor_rollout_ref.rollout.multi_turn.interaction_config_path="$HERE/maze_feedback.yaml" \
  actor_rollout_ref.rollout.multi_turn.max_assistant_turns="$ATTEMPTS" \
  actor_rollout_ref.rollout.multi_turn.call_workers=1 \
  trainer.project_name=maxrl_multi_turn_cpu \
  trainer.experiment_name="maze_attempts_${ADVANTAGE_ESTIMATOR}_seed${SEED}" \
  trainer.total_training_steps="$STEPS" \
  trainer.test_freq="$TEST_FREQ" \
  trainer.save_freq="$TEST_FREQ" \
  "$@"

# The same policy with one attempt, on the same mazes: what the feedback turns add.
if [ "${DRY_RUN:-0}" != "1" ]; then
  echo "the final policy with a single attempt on the same mazes:"
  maxrl_cpu_train_and_summarise "$RUN_DIR/single_attempt" "${COMMON[@]}" \
    data.train_files="$DATA_DIR/train.parquet" \
    data.val_files="$DATA_DIR/val.parquet" \
    data.max_response_length=40 \
    actor_rollout_ref.model.path="$RUN_DIR/global_step_$STEPS/actor/huggingface" \
    trainer.val_only=True \
    trainer.resume_mode=disable
fi
