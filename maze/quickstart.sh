#!/usr/bin/env bash
# CPU quickstart: MaxRL on small mazes, end to end, with nothing downloaded.
#
#   bash maze/quickstart.sh            # everything goes under $MAXRL_OUTPUT_DIR (default ./outputs)
#
# 1. makes 9x9 mazes (maze/generate_maze.py);
# 2. gives a small Qwen2 a short supervised warm start on their shortest paths (maze/sft.py; the recipe of
#    maze/maze_cpu.sh: 400 steps, test pass@1 of a few percent, so RL has something to improve);
# 3. trains it with MaxRL through the full stack: Ray, 2 FSDP2 workers (gloo), HF rollout, the maze
#    verifier in the reward manager, validation with pass@k, a checkpoint with a Hugging Face export;
# 4. prints pass@k before and after RL and writes the plots.
# Rerunning reuses the data and the warm start and continues the RL run from its checkpoint.
# Extra arguments are Hydra overrides for the RL stage (e.g. algorithm.adv_estimator=grpo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${MAXRL_OUTPUT_DIR:-./outputs}/quickstart"
DATA="$OUT/data"
SFT="$OUT/sft"
RUN="$OUT/rl_maxrl"
mkdir -p "$OUT"

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline \
       RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 TOKENIZERS_PARALLELISM=false
start=$SECONDS
stage() { echo; echo "== [$((SECONDS - start)) s] $*"; }

stage "1/4 mazes: 9x9, 20,000 generated, the first 64 test mazes kept for validation"
if [[ ! -f "$DATA/val.parquet" ]]; then
  python "$ROOT/maze/generate_maze.py" --output-dir "$DATA" --size 9 --num-mazes 20000 --test-size 128 \
    --seed 0 --formats parquet --workers 1 --no-progress
  python -c "import pandas, sys; pandas.read_parquet(sys.argv[1]).head(64).to_parquet(sys.argv[2])" \
    "$DATA/test.parquet" "$DATA/val.parquet"
fi

stage "2/4 supervised warm start: a 0.5M-parameter Qwen2, 400 steps (reused when present)"
WARM_START="$SFT/checkpoint-400"
if [[ ! -f "$WARM_START/config.json" ]]; then
  python "$ROOT/maze/sft.py" --train-data "$DATA/train.parquet" --test-data "$DATA/val.parquet" \
    --output-dir "$SFT" --max-steps 400 --hidden-size 128 --intermediate-size 512 --num-layers 2 \
    --micro-batch-size 32 --learning-rate 1e-3 --eval-every 0 --eval-n 8 --eval-ks 1 8 \
    --save-every 0 --log-every 100 --no-progress --device cpu
fi

stage "3/4 MaxRL from $WARM_START (Ray, 2 FSDP2 workers, HF rollout)"
python -m maxrl.trainer.main_ppo \
  algorithm.adv_estimator=maxrl \
  data.train_files="$DATA/train.parquet" \
  data.val_files="$DATA/val.parquet" \
  data.train_batch_size=16 \
  data.max_prompt_length=96 \
  data.max_response_length=32 \
  data.apply_chat_template=False \
  actor_rollout_ref.model.path="$WARM_START" \
  actor_rollout_ref.actor.dtype=fp32 \
  actor_rollout_ref.actor.optim.lr=1e-4 \
  actor_rollout_ref.actor.ppo_mini_batch_size=16 \
  actor_rollout_ref.rollout.dtype=fp32 \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.val_kwargs.n=16 \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.rollout.val_kwargs.temperature=1.0 \
  reward_model.reward_manager=prime \
  +reward_model.reward_kwargs.num_processes=1 \
  trainer.project_name=maxrl_quickstart \
  trainer.experiment_name=maze9_maxrl \
  trainer.logger='[console,file]' \
  trainer.device=cpu \
  trainer.n_gpus_per_node=2 \
  trainer.total_training_steps=20 \
  trainer.test_freq=10 \
  trainer.save_freq=20 \
  trainer.default_local_dir="$RUN" \
  ray_init.num_cpus=2 \
  "$@"

stage "4/4 pass@k before (step 0) and after RL, and plots"
python -m maxrl.trainer.plots summary "$RUN"
python -m maxrl.trainer.plots run "$RUN"
cat <<'MEANING'

What these numbers mean: this is a smoke run of the full stack (20 steps of 16 mazes), not a test of
MaxRL. Twenty small steps sharpen the warm start: pass@1 usually rises while pass@16 (coverage) can fall,
under MaxRL and under GRPO alike. Whether MaxRL keeps more coverage than GRPO needs longer runs, many seeds
and held-out pass@k up to 256: docs/evidence.md has that study and what it found.
MEANING
echo
echo "done in $((SECONDS - start)) s; run folder: $RUN (metrics.jsonl, validation/, plots/, global_step_*/)"
