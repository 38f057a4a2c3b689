#!/usr/bin/env bash
# The maze experiment at CPU scale: 9x9 mazes, a 0.5M-parameter Qwen2 warm-started by supervised training,
# then MaxRL through the full stack (Ray, FSDP2 on gloo, HF rollout, maze verifier). Nothing is downloaded.
#
#   bash maze/maze_cpu.sh                        # data + warm start on first use, then RL
#   SFT_MODEL=outputs/maze_cpu/sft/checkpoint-400 ADVANTAGE_ESTIMATOR=grpo bash maze/maze_cpu.sh
#
# Steps (each skipped when its output exists under $MAXRL_OUTPUT_DIR/maze_cpu):
#   data/   python maze/generate_maze.py --size 9 (20,000 mazes, 128 test mazes), ~5 s; data/heldout/test.parquet:
#           256 more test mazes (seed 1, none in train or test), for studies that need more than 128
#   sft/    python maze/sft.py, the warm-start recipe of docs/experiments.md (400 steps; test pass@1 ~7%), with a
#           checkpoint every 100 steps (checkpoint-<step>/, ~2 MB each; WARM_START_STEP picks one)
#   rl_<estimator>_n<N>/   the RL run: metrics.jsonl, validation/step_<N>.json, global_step_<N>/
# The RL run prints pass@1 and pass@VAL_N on the test mazes before the first step and after the last.
#
# Optional: MAXRL_OUTPUT_DIR (./outputs), SFT_MODEL (skip the warm start), WARM_START_STEP (400: the SFT
# checkpoint RL starts from, 100/200/300/400; the schedule is always the 400-step one), ADVANTAGE_ESTIMATOR (maxrl),
# ROLLOUT_N (8), STEPS (12), TRAIN_BATCH (8 mazes per step), LR (1e-4), VAL_DATA (the data's test.parquet),
# VAL_MAZES (32: the first of VAL_DATA), VAL_N (16),
# N_WORKERS (1 FSDP process), SEED (1), RUN_DIR (the RL run folder), DRY_RUN=1; extra arguments are Hydra
# overrides.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/experiments/cpu_launch.sh"

ROOT="${MAXRL_OUTPUT_DIR:-./outputs}/maze_cpu"
DATA_DIR="$ROOT/data"
maxrl_cpu_env
maxrl_check_estimator
ROLLOUT_N="${ROLLOUT_N:-8}" STEPS="${STEPS:-12}" TRAIN_BATCH="${TRAIN_BATCH:-8}" SEED="${SEED:-1}"
VAL_MAZES="${VAL_MAZES:-32}" VAL_N="${VAL_N:-16}" N_WORKERS="${N_WORKERS:-1}"
for name in ROLLOUT_N STEPS TRAIN_BATCH SEED VAL_MAZES VAL_N N_WORKERS; do maxrl_require_int "$name"; done
LR="${LR:-1e-4}" WARM_START_STEP="${WARM_START_STEP:-400}"
[[ "$WARM_START_STEP" =~ ^[1-4]00$ ]] || maxrl_die "WARM_START_STEP must be 100, 200, 300 or 400 (an SFT checkpoint), got '$WARM_START_STEP'"
RUN_DIR="${RUN_DIR:-$ROOT/rl_${ADVANTAGE_ESTIMATOR}_n${ROLLOUT_N}}"
VAL_DATA="${VAL_DATA:-$DATA_DIR/test.parquet}"
VAL_FILE="${VAL_DATA%.parquet}_first${VAL_MAZES}.parquet"

if [ "${DRY_RUN:-0}" != "1" ]; then
  if [ ! -e "$DATA_DIR/train.parquet" ]; then
    "$PYTHON" maze/generate_maze.py --size 9 --num-mazes 20000 --test-size 128 --seed 0 \
      --formats parquet --no-progress --out "$DATA_DIR"
  fi
  if [ ! -e "$DATA_DIR/heldout/test.parquet" ]; then  # 256 mazes of another seed, none in train or test
    "$PYTHON" maze/generate_maze.py --size 9 --num-mazes 2000 --test-size 256 --seed 1 --formats parquet \
      --no-progress --exclude "$DATA_DIR/train.parquet" "$DATA_DIR/test.parquet" --out "$DATA_DIR/heldout"
  fi
  if [ -z "${SFT_MODEL:-}" ]; then
    SFT_MODEL="$ROOT/sft/checkpoint-$WARM_START_STEP"
    if [ ! -e "$ROOT/sft/checkpoint-400/config.json" ]; then
      "$PYTHON" maze/sft.py --train-data "$DATA_DIR/train.parquet" --test-data "$DATA_DIR/test.parquet" \
        --output-dir "$ROOT/sft" --max-steps 400 --hidden-size 128 --intermediate-size 512 --num-layers 2 \
        --micro-batch-size 32 --learning-rate 1e-3 --eval-every 0 --eval-num-mazes 64 --eval-n 8 \
        --eval-ks 1 8 --save-every 100 --keep-last 0 --no-progress --num-threads 1 --device cpu
    fi
  fi
  maxrl_require_path SFT_MODEL "the warm-started maze model folder written by maze/sft.py (a warm start made before
  checkpoints were kept every 100 steps has only checkpoint-400: remove $ROOT/sft to remake it)"
  maxrl_require_path VAL_DATA "a verl parquet of test mazes (default: the data set's test.parquet)"
  # Validation uses the first VAL_MAZES test mazes, so every run is scored on the same ones.
  [ -e "$VAL_FILE" ] || "$PYTHON" -c "import pandas, sys; pandas.read_parquet(sys.argv[1]).head(int(sys.argv[3])).to_parquet(sys.argv[2])" \
    "$VAL_DATA" "$VAL_FILE" "$VAL_MAZES"
else
  SFT_MODEL="${SFT_MODEL:-$ROOT/sft/checkpoint-$WARM_START_STEP}"
fi
RAY_NUM_CPUS="${RAY_NUM_CPUS:-$((N_WORKERS + 1))}"

maxrl_cpu_train_and_summarise "$RUN_DIR" \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$VAL_FILE" \
  data.train_batch_size="$TRAIN_BATCH" \
  data.max_prompt_length=128 \
  data.max_response_length=32 \
  data.apply_chat_template=False \
  data.seed="$SEED" \
  actor_rollout_ref.model.path="$SFT_MODEL" \
  actor_rollout_ref.actor.dtype=fp32 \
  actor_rollout_ref.actor.optim.lr="$LR" \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.rollout.name=hf \
  actor_rollout_ref.rollout.dtype=fp32 \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N" \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=1.0 \
  +reward_model.reward_kwargs.num_processes=1 \
  trainer.project_name=maxrl_maze_cpu \
  trainer.experiment_name="maze9_${ADVANTAGE_ESTIMATOR}_n${ROLLOUT_N}_seed${SEED}" \
  trainer.logger='[console,file]' \
  trainer.device=cpu \
  trainer.n_gpus_per_node="$N_WORKERS" \
  trainer.nnodes=1 \
  trainer.seed="$SEED" \
  trainer.val_before_train=True \
  trainer.total_training_steps="$STEPS" \
  trainer.save_freq=-1 \
  "$@"
