#!/usr/bin/env bash
# The paper's ImageNet experiment: a ResNet-50 trained from scratch on ImageNet-1k, where the classifier's
# softmax is a policy over labels. Each step samples NUM_ROLLOUTS labels per image (reward 1 for the true one)
# and follows the chosen objective's policy gradient; cross_entropy is exact maximum likelihood.
# Paper settings: batch 256, 1,024 rollouts, SGD lr 0.1 (momentum 0.9, weight decay 1e-4), 2 warm-up epochs
# then cosine, 20 epochs (~100K steps), exact pass@k for k = 1..1024 every 1,000 steps.
#
# Required environment:
#   IMAGENET_DATA_DIR  a local copy of benjamin-paine/imagenet-1k-256x256 (save_to_disk folder, its parquet
#                      files, or an image folder train/<class>/*, validation/<class>/*), or "hub" to download it
#                      from the Hugging Face hub into HF_HOME
#   OUTPUT_DIR         run folder: metrics.jsonl, config.yaml, checkpoints/latest.pt (a rerun resumes from it)
# Optional environment (defaults in brackets):
#   ADVANTAGE_ESTIMATOR [maxrl]  cross_entropy, maxrl, grpo, rloo, reinforce_with_baseline, reinforce,
#                                maclaurin, pkpo, or any estimator registered in maxrl.algorithms
#   NUM_ROLLOUTS [1024]  TRUNCATE_ORDER [NUM_ROLLOUTS] (maclaurin)  PASS_K [16] (pkpo)
#   EPOCHS [20]  BATCH_SIZE [256, global]  LR [0.1]  SEED [69]  DATA_WORKERS [8 per GPU]
#   NPROC_PER_NODE [number of GPUs]  TORCHRUN_ARGS [--standalone --nproc_per_node=$NPROC_PER_NODE]
#   LOGGERS [[console,file]] (add wandb and/or tensorboard)  EXPERIMENT_NAME [imagenet_<estimator>_n<rollouts>]
#   DRY_RUN=1  print the command and the resolved config, then exit
# Extra arguments are forwarded as config overrides, e.g. `trainer.eval_every=500 model.channels_last=false`.
#
# Needs torchvision matching your torch (not a maxrl dependency): pip install torchvision
set -euo pipefail

fail() { echo "imagenet_training_script.sh: $*" >&2; exit 2; }

if [[ -z "${IMAGENET_DATA_DIR:-}" ]]; then
  fail "IMAGENET_DATA_DIR is not set. Point it at a local copy of benjamin-paine/imagenet-1k-256x256
  (e.g. \`huggingface-cli download benjamin-paine/imagenet-1k-256x256 --repo-type dataset --local-dir DIR\`),
  or set IMAGENET_DATA_DIR=hub to load it from the Hugging Face hub (cached in HF_HOME)."
fi
if [[ -z "${OUTPUT_DIR:-}" ]]; then
  fail "OUTPUT_DIR is not set. Choose a folder for metrics and checkpoints, e.g. OUTPUT_DIR=/ckpt/imagenet_maxrl."
fi

ADVANTAGE_ESTIMATOR=${ADVANTAGE_ESTIMATOR:-maxrl}
NUM_ROLLOUTS=${NUM_ROLLOUTS:-1024}
TRUNCATE_ORDER=${TRUNCATE_ORDER:-$NUM_ROLLOUTS}
PASS_K=${PASS_K:-16}
EPOCHS=${EPOCHS:-20}
BATCH_SIZE=${BATCH_SIZE:-256}
LR=${LR:-0.1}
SEED=${SEED:-69}
DATA_WORKERS=${DATA_WORKERS:-8}
LOGGERS=${LOGGERS:-[console,file]}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-imagenet_${ADVANTAGE_ESTIMATOR}_n${NUM_ROLLOUTS}}
if [[ -z "${NPROC_PER_NODE:-}" ]]; then
  NPROC_PER_NODE=$( (command -v nvidia-smi >/dev/null && nvidia-smi -L | wc -l) || echo 0)
  (( NPROC_PER_NODE > 0 )) || NPROC_PER_NODE=1
fi
TORCHRUN_ARGS=${TORCHRUN_ARGS:---standalone --nproc_per_node=$NPROC_PER_NODE}

DATA_ARGS=()
[[ "$IMAGENET_DATA_DIR" == hub ]] || DATA_ARGS=("data.data_dir=$IMAGENET_DATA_DIR")

OVERRIDES=(
  data.name=imagenet "${DATA_ARGS[@]}" "data.num_workers=$DATA_WORKERS"
  model.name=resnet50
  "objective.name=$ADVANTAGE_ESTIMATOR" "objective.num_rollouts=$NUM_ROLLOUTS"
  "objective.truncate_order=$TRUNCATE_ORDER" "objective.pass_k=$PASS_K"
  "optim.lr=$LR" optim.momentum=0.9 optim.weight_decay=1e-4 optim.warmup_epochs=2
  "trainer.batch_size=$BATCH_SIZE" trainer.eval_batch_size=1000 "trainer.epochs=$EPOCHS"
  trainer.eval_every=1000 trainer.save_every=1000 trainer.pass_k_max=1024 "trainer.seed=$SEED"
  "trainer.output_dir=$OUTPUT_DIR" "trainer.experiment_name=$EXPERIMENT_NAME" "trainer.logger=$LOGGERS"
  "$@"
)

# shellcheck disable=SC2206  # TORCHRUN_ARGS is a word list on purpose
COMMAND=(torchrun $TORCHRUN_ARGS -m maxrl.tasks.vision.train "${OVERRIDES[@]}")

if [[ "${DRY_RUN:-0}" == 1 ]]; then
  printf 'command:'; printf ' %q' "${COMMAND[@]}"; printf '\n\nresolved config:\n'
  exec python -m maxrl.tasks.vision.train "${OVERRIDES[@]}" trainer.dry_run=true
fi
exec "${COMMAND[@]}"
