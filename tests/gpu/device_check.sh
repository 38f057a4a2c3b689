#!/usr/bin/env bash
# The device check: every GPU item of tests/gpu (and two CPU items) in one go, within 8 minutes, on a machine
# that has torch but no package registry (tests/gpu/README.md). Run from anywhere in the repository:
#
#   bash tests/gpu/device_check.sh
#
# It installs the wheels that tests/gpu/wheels.sh downloaded (tests/gpu/wheels/, if there) with --no-deps into a
# folder of their own, puts that folder and the repository on PYTHONPATH (maxrl is not installed: torch and the
# image's packages stay as they are), and runs tests/gpu/device_check.py. It writes device_check.log and
# summary.json to $DEVICE_CHECK_OUT, else $OUT, else ./device-check-out; exits 0 when the check passed.
#   PYTHON                 the interpreter with torch (default python3)
#   DEVICE_CHECK_BUDGET_S  the time limit of the whole check in seconds (default 480)
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out="${DEVICE_CHECK_OUT:-${OUT:-$repo/device-check-out}}"
python="${PYTHON:-python3}"
site="${TMPDIR:-/tmp}/maxrl-device-check-site"
mkdir -p "$out"

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline \
       RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export HF_HOME="${HF_HOME:-$(mktemp -d)/hf}"

shopt -s nullglob
wheels=(tests/gpu/wheels/*.whl)
if [ ${#wheels[@]} -gt 0 ]; then
  rm -rf "$site"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "${wheels[@]}" \
    || { echo "device_check: installing tests/gpu/wheels failed" >&2; exit 1; }
  echo "device_check: ${#wheels[@]} wheels installed into $site"
  export PYTHONPATH="$repo:$site${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "device_check: no tests/gpu/wheels (run tests/gpu/wheels.sh); using the installed packages"
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
fi

"$python" tests/gpu/device_check.py --out "$out" --python "$python" --budget-s "${DEVICE_CHECK_BUDGET_S:-480}"
