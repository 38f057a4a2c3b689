#!/usr/bin/env bash
# The ImageNet effect on a CPU in a few minutes: every objective (cross-entropy, MaxRL, GRPO, RLOO, REINFORCE
# with and without baseline, Maclaurin, PKPO) trains on two offline sets with equal steps -- scikit-learn's
# digits (10 classes) and a generated 250-class Gaussian mixture whose untrained pass rate is ~1/250 -- and
# MaxRL / REINFORCE also run with 16, 128 and 1,024 rollouts per image. Nothing is downloaded.
#
# Writes to OUTPUT_DIR [outputs/vision_cpu]: comparison.md, comparison.json, pass_at_k_<dataset>.png,
# pass1_over_training_<dataset>.png and one run folder per (dataset, objective, N).
# Extra arguments go to `python -m maxrl.tasks.vision.compare` (see its --help), e.g.
#   imagenet/imagenet_cpu.sh --datasets gaussian_mixture --steps 400 data.mixture_classes=500
set -euo pipefail

OUTPUT_DIR=${OUTPUT_DIR:-outputs/vision_cpu}
# Tiny models run fastest on one thread; more threads only contend on a shared machine.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}

python -m maxrl.tasks.vision.compare --output-dir "$OUTPUT_DIR" "$@"
echo "table: $OUTPUT_DIR/comparison.md   plots: $OUTPUT_DIR/pass_at_k_*.png $OUTPUT_DIR/pass1_over_training_*.png"
