#!/usr/bin/env bash
# 17x17 maze RL from the supervised warm start, the paper's infinite-data experiment (arXiv 2602.02710; docs/experiments.md):
# 1 node x 4 GPUs, HF rollout (faster than vLLM for a 4M-parameter model).
#
#   SFT_MODEL=/ckpt/maze_sft DATA_DIR=/data/maze17 CKPT_DIR=/ckpt/maze_rl bash maze/maze_17.sh
#
# DATA_DIR holds train.parquet and test.parquet from
#   python maze/generate_maze.py --size 17 --num-mazes 1000000 --test-size 256 --out $DATA_DIR
# SFT_MODEL is the warm start from maze/sft.py (the paper uses 1,500 SFT steps).
# Optional: ADVANTAGE_ESTIMATOR=maxrl|grpo|rloo, ROLLOUT_N (128; the paper sweeps 4..128), N_GPUS (4),
# VAL_N (2048), DRY_RUN=1; extra arguments are Hydra overrides.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"

maxrl_require_path SFT_MODEL "the warm-started maze model folder written by maze/sft.py"
maxrl_require_path DATA_DIR "the folder written by maze/generate_maze.py"
maxrl_require_file "$DATA_DIR/train.parquet" "run maze/generate_maze.py --out \$DATA_DIR"
maxrl_require_env CKPT_DIR "where RL checkpoints go (not the SFT folder)"
maxrl_check_estimator
N_GPUS="${N_GPUS:-4}"; maxrl_require_int N_GPUS
ROLLOUT_N="${ROLLOUT_N:-128}"; maxrl_require_int ROLLOUT_N
VAL_N="${VAL_N:-2048}"; maxrl_require_int VAL_N
RAY_NUM_GPUS="$N_GPUS"

maxrl_train \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.train_batch_size=256 \
  data.max_prompt_length=320 \
  data.max_response_length=180 \
  data.apply_chat_template=False \
  actor_rollout_ref.model.path="$SFT_MODEL" \
  actor_rollout_ref.actor.optim.lr=1e-4 \
  actor_rollout_ref.actor.ppo_mini_batch_size=256 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4096 \
  actor_rollout_ref.actor.dtype=fp16 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.rollout.name=hf \
  actor_rollout_ref.rollout.dtype=fp16 \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4096 \
  +actor_rollout_ref.rollout.micro_batch_size=4096 \
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N" \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=1.0 \
  reward_model.reward_manager=prime \
  +reward_model.reward_kwargs.num_processes=64 \
  +reward_model.reward_kwargs.chunksize=64 \
  trainer.project_name=maxrl_maze \
  trainer.experiment_name="maze17_${ADVANTAGE_ESTIMATOR}_n${ROLLOUT_N}" \
  trainer.logger='[console,wandb,file]' \
  trainer.device=cuda \
  trainer.n_gpus_per_node="$N_GPUS" \
  trainer.nnodes=1 \
  trainer.val_before_train=True \
  trainer.test_freq=250 \
  trainer.save_freq=250 \
  trainer.total_epochs=10 \
  trainer.default_local_dir="$CKPT_DIR" \
  "$@"
