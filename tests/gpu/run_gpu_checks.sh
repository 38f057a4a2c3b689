#!/usr/bin/env bash
# Every `gpu` test on one CUDA GPU, each file in its own pytest process (an in-process vLLM engine keeps its
# device memory until its process ends). Budget: under 8 minutes on one GPU.
#
#   pip install -e '.[gpu,test]'            # CUDA torch, vLLM, flash-attn (see docs/vllm.md)
#   bash tests/gpu/run_gpu_checks.sh        # extra arguments go to every pytest call (e.g. -x, -k vllm)
#
# Prints one line per file and a summary; exits non-zero if any file failed or nothing ran on a GPU.
set -uo pipefail
cd "$(dirname "$0")/../.."

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline \
       RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 TOKENIZERS_PARALLELISM=false
PYTHON="${PYTHON:-python}"

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "run_gpu_checks: torch sees no CUDA GPU; nothing to check" >&2
  exit 1
fi
"$PYTHON" -c "import torch; print('GPU:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
"$PYTHON" -c "import vllm; print('vLLM', vllm.__version__)" 2>/dev/null || echo "vLLM: not installed (vllm tests skip)"

status=0
start=$SECONDS
for test_file in tests/gpu/test_gpu_*.py; do
  file_start=$SECONDS
  "$PYTHON" -m pytest -q -m gpu -p no:cacheprovider --timeout=420 "$test_file" "$@"
  rc=$?
  echo "== $test_file: exit $rc in $((SECONDS - file_start)) s"
  [ "$rc" -eq 0 ] || status=1
done
echo "== all GPU checks: $([ "$status" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start)) s"
exit "$status"
