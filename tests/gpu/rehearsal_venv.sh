#!/usr/bin/env bash
# Build .rehearsal-venv: a Python 3.12 venv with the GPU machine's packages and nothing else (no maxrl, no Ray,
# no hydra: those come as the carried wheels), so that the device check can be rehearsed here on CPU
# (tests/gpu/README.md). torch 2.11.0 comes from PyPI, a CUDA build with its CUDA libraries (about 3 GB to
# download); it runs on CPU.
#
#   bash tests/gpu/rehearsal_venv.sh     # PYTHON312=... names the interpreter (default: python3.12, else pyenv's)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.rehearsal-venv
python="${PYTHON312:-}"
if [ -z "$python" ]; then
  for candidate in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
    if "$candidate" -c "" 2>/dev/null; then python=$candidate; break; fi
  done
fi
[ -n "$python" ] || { echo "rehearsal_venv: no Python 3.12 found; set PYTHON312" >&2; exit 1; }

# The image's versions where the machine reported them (the device notes), the rest as pip resolves them.
IMAGE=(
  torch==2.11.0 transformers==5.17.0 accelerate==1.15.0 safetensors==0.8.0 tokenizers==0.23.2
  huggingface-hub==1.33.0 numpy==2.5.2 peft pyarrow pandas pytest pytest-timeout hypothesis psutil rich tqdm
  matplotlib scikit-learn
  cloudpickle xxhash  # in the image too, and needed by the carried tensordict and datasets
)

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q -U pip
"$venv/bin/pip" install -q "${IMAGE[@]}"
"$venv/bin/python" -c "import sys, torch, transformers; print('rehearsal venv: Python', sys.version.split()[0], \
'| torch', torch.__version__, '| transformers', transformers.__version__, '| CUDA available:', torch.cuda.is_available())"
