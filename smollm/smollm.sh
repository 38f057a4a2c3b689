#!/usr/bin/env bash
# SmolLM2-360M-Instruct on GSM8K, the paper's data-scarce experiment (arXiv 2602.02710; docs/experiments.md): 1 node x 8 GPUs.
#
#   MODEL_PATH=HuggingFaceTB/SmolLM2-360M-Instruct DATA_DIR=/data/gsm8k CKPT_DIR=/ckpt/smollm bash smollm/smollm.sh
#
# DATA_DIR holds train.parquet (openai/gsm8k) and test.parquet (gsm8k-platinum), written by
#   python examples/maxrl_data_preprocess/gsm8k.py --local_dir $DATA_DIR
# Optional: ADVANTAGE_ESTIMATOR=maxrl|grpo|rloo, N_GPUS (8), ROLLOUT_N (128), DRY_RUN=1; extra arguments are
# Hydra overrides. (The paper's script also sets algorithm.pass_k/truncate_order=64: inert for these estimators.)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"

maxrl_require_env MODEL_PATH "a Hugging Face model id or folder (SmolLM2-360M-Instruct in the paper)"
maxrl_require_path DATA_DIR "the folder written by examples/maxrl_data_preprocess/gsm8k.py"
maxrl_require_file "$DATA_DIR/train.parquet" "run examples/maxrl_data_preprocess/gsm8k.py --local_dir \$DATA_DIR"
maxrl_require_env CKPT_DIR "where checkpoints go"
maxrl_check_estimator
N_GPUS="${N_GPUS:-8}"; maxrl_require_int N_GPUS
ROLLOUT_N="${ROLLOUT_N:-128}"; maxrl_require_int ROLLOUT_N
RAY_NUM_GPUS="$N_GPUS"

maxrl_train \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.train_batch_size=256 \
  data.max_prompt_length=512 \
  data.max_response_length=2048 \
  data.filter_overlong_prompts=True \
  data.truncation=error \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.model.use_remove_padding=True \
  actor_rollout_ref.model.enable_gradient_checkpointing=True \
  actor_rollout_ref.actor.optim.lr=1e-5 \
  actor_rollout_ref.actor.ppo_mini_batch_size=256 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=64 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.7 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=64 \
  actor_rollout_ref.rollout.val_kwargs.n=32 \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=0.6 \
  actor_rollout_ref.rollout.val_kwargs.top_p=0.95 \
  reward_model.reward_manager=multi_thread \
  +reward_model.reward_kwargs.num_reward_actors=64 \
  +reward_model.reward_kwargs.zero_reward_on_max_response_length=True \
  +reward_model.reward_kwargs.max_resp_len=2048 \
  trainer.project_name=maxrl_smollm \
  trainer.experiment_name="smollm2_gsm8k_${ADVANTAGE_ESTIMATOR}_n${ROLLOUT_N}" \
  trainer.logger='[console,wandb,file]' \
  trainer.device=cuda \
  trainer.n_gpus_per_node="$N_GPUS" \
  trainer.nnodes=1 \
  trainer.val_before_train=True \
  trainer.test_freq=100 \
  trainer.save_freq=100 \
  trainer.total_epochs=200 \
  trainer.default_local_dir="$CKPT_DIR" \
  "$@"
