#!/usr/bin/env bash
# Qwen3-1.7B-Base / Qwen3-4B-Base on POLARIS (arXiv 2602.02710; docs/experiments.md): 4 nodes x 8 H200 in the paper.
# Submit as a Slurm job (every node of the allocation joins one Ray cluster, torn down on exit):
#
#   MODEL_PATH=Qwen/Qwen3-4B-Base DATA_ROOT=/data CKPT_DIR=/ckpt/qwen3 \
#     sbatch --nodes=4 --ntasks-per-node=1 --gpus-per-node=8 --cpus-per-task=64 qwen3_experiments/run_qwen3_training.sh
#
# DATA_ROOT holds polaris/train.parquet, aime25/test.parquet, math_500/test.parquet (and optionally
# beyondaime/ and minerva/), written by examples/maxrl_data_preprocess/*.py --local_dir $DATA_ROOT/<name>.
# Optional: ADVANTAGE_ESTIMATOR=maxrl|grpo|rloo, NNODES (SLURM_JOB_NUM_NODES or 4), N_GPUS (8),
# VAL_SETS ("aime25 math_500"), NCCL_SOCKET_IFNAME/GLOO_SOCKET_IFNAME for your fabric, DRY_RUN=1;
# extra arguments are Hydra overrides.
#SBATCH --job-name=maxrl-qwen3
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
set -euo pipefail
source "${MAXRL_HOME:-${SLURM_SUBMIT_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}}/maxrl/launch/launcher.sh"

maxrl_require_env MODEL_PATH "a Hugging Face model id or folder (Qwen/Qwen3-1.7B-Base or Qwen/Qwen3-4B-Base)"
maxrl_require_path DATA_ROOT "the folder holding the prepared parquet sets"
maxrl_require_file "$DATA_ROOT/polaris/train.parquet" "run examples/maxrl_data_preprocess/polaris.py --local_dir \$DATA_ROOT/polaris"
maxrl_require_env CKPT_DIR "where checkpoints go"
maxrl_check_estimator
NNODES="${NNODES:-${SLURM_JOB_NUM_NODES:-4}}"; maxrl_require_int NNODES
N_GPUS="${N_GPUS:-8}"; maxrl_require_int N_GPUS
RAY_NUM_GPUS="$N_GPUS"
VAL_FILES=""
for name in ${VAL_SETS:-aime25 math_500}; do
  maxrl_require_file "$DATA_ROOT/$name/test.parquet" "run examples/maxrl_data_preprocess/$name.py --local_dir \$DATA_ROOT/$name"
  VAL_FILES="${VAL_FILES:+$VAL_FILES,}$DATA_ROOT/$name/test.parquet"
done
export VLLM_ATTENTION_BACKEND="${VLLM_ATTENTION_BACKEND:-FLASH_ATTN}"

maxrl_train \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA_ROOT/polaris/train.parquet" \
  data.val_files="[$VAL_FILES]" \
  data.train_batch_size=256 \
  data.max_prompt_length=1024 \
  data.max_response_length=4096 \
  data.filter_overlong_prompts=True \
  data.truncation=error \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.model.use_remove_padding=True \
  actor_rollout_ref.model.enable_gradient_checkpointing=True \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=256 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.actor.clip_ratio_low=0.2 \
  actor_rollout_ref.actor.clip_ratio_high=0.2 \
  actor_rollout_ref.actor.grad_clip=0.3 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=16 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.7 \
  actor_rollout_ref.rollout.max_model_len=32000 \
  actor_rollout_ref.rollout.max_num_batched_tokens=32000 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.rollout.val_kwargs.n=32 \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=0.6 \
  actor_rollout_ref.rollout.val_kwargs.top_p=0.95 \
  actor_rollout_ref.rollout.val_kwargs.top_k=-1 \
  reward_model.reward_manager=multi_thread \
  trainer.project_name=maxrl_qwen3 \
  trainer.experiment_name="$(basename "$MODEL_PATH")_polaris_${ADVANTAGE_ESTIMATOR}" \
  trainer.logger='[console,wandb,file]' \
  trainer.device=cuda \
  trainer.nnodes="$NNODES" \
  trainer.n_gpus_per_node="$N_GPUS" \
  trainer.balance_batch=True \
  trainer.val_before_train=True \
  trainer.test_freq=50 \
  trainer.save_freq=50 \
  trainer.total_epochs=5 \
  trainer.default_local_dir="$CKPT_DIR" \
  "$@"
