#!/usr/bin/env bash
# Sets everything up (Debian packages, Release build), checks the kernels against the CPU
# reference, then trains LeNet-5 on Fashion-MNIST headless into runs/lenet5-<time>.
# Extra arguments go to `vkwb train` (e.g. --epochs 2).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh" "$here/build"
vkwb="$here/build/apps/vkwb"
"$vkwb" selftest > /dev/null && echo "selftest: every kernel matches the CPU reference"
out="$here/runs/lenet5-$(date +%Y%m%d-%H%M%S)"
# The recipe of docs/RESULTS.md that reaches >= 0.91 test accuracy in 10 epochs.
exec "$vkwb" train --model lenet5 --data fashion-mnist --epochs 10 --optimizer adam --lr 2e-3 --schedule cosine \
  --flip --label-smoothing 0.1 --val-size 0 --batch 64 --seed 1 --out "$out" "$@"
