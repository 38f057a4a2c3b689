#!/usr/bin/env bash
# Creates .venv-trl: TRL 1.16.0 in a venv of its own, beside maxrl's, for the TRL comparison
# (`python -m benchmarks.run --suite trl`). A separate venv keeps TRL's pins from moving maxrl's
# libraries; constraints.txt keeps the CPU build of torch. The runner in it imports only TRL, its
# dependencies and benchmarks/trl/workload.py, so nothing of maxrl is installed there.
#
# Usage (from the repository root): bash benchmarks/trl/setup_venv.sh [VENV_DIR]   (default .venv-trl)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${1:-.venv-trl}"
python3 -m venv "$venv"
"$venv/bin/pip" install -q -c constraints.txt trl==1.16.0 psutil
"$venv/bin/python" -c "import trl, torch; print(f'{trl.__version__=} {torch.__version__=}')"
