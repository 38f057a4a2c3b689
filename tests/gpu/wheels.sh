#!/usr/bin/env bash
# Download, here (where PyPI is reachable), the wheels the device check needs beyond the GPU machine's image
# (tests/gpu/README.md): CPython 3.12 manylinux x86-64 builds, without their dependencies (the image has the
# rest), into tests/gpu/wheels/ (ignored by git, carried to the machine). Then check that the wheels and the
# working tree that travels with them stay within WHEELS_LIMIT_MIB (default 50; the machine takes 64 MiB).
#
#   bash tests/gpu/wheels.sh            # PYTHON=... picks the pip to download with (default python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
folder=tests/gpu/wheels
limit_mib="${WHEELS_LIMIT_MIB:-50}"

# The versions this repository is tested with. Not in the image: the config (hydra-core, omegaconf, their
# antlr4 runtime), the batch type (tensordict, pyvers), the stateful data loader (torchdata), the reward
# process pool (pebble), the math scorer (math-verify, latex2sympy2_extended) and the data preparation
# (datasets, dill, multiprocess). Their other needs (PyYAML, cloudpickle, requests, xxhash, pyarrow, pandas,
# fsspec, huggingface-hub, sympy, ...) are in the image.
ANTLR=antlr4-python3-runtime==4.9.3  # published as a source archive only: its pure-Python wheel is built here
WHEELS=(
  hydra-core==1.3.8 omegaconf==2.3.1
  tensordict==0.15.3 pyvers==0.2.3 torchdata==0.11.0 pebble==5.2.3
  math-verify==0.9.0 latex2sympy2_extended==1.11.0
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
)

rm -rf "$folder"
mkdir -p "$folder"
"$python" -m pip wheel -q --no-deps -w "$folder" "$ANTLR"
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_28_x86_64 -d "$folder" "${WHEELS[@]}"

wheels_bytes=$(du -cb "$folder"/*.whl | tail -1 | cut -f1)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
total_mib=$(( (wheels_bytes + tree_bytes) / 1048576 ))
echo "wheels.sh: $(ls "$folder"/*.whl | wc -l) wheels, $((wheels_bytes / 1024)) KiB; with the working tree" \
     "($((tree_bytes / 1024)) KiB) $total_mib MiB of at most $limit_mib MiB"
ls "$folder"
if [ "$total_mib" -gt "$limit_mib" ]; then
  echo "wheels.sh: the wheels and the tree take $total_mib MiB, over $limit_mib MiB: ignore large untracked files" >&2
  exit 1
fi
