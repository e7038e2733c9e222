#!/usr/bin/env bash
# Interleaved A/B runs of vkwb benchmarks on a noisy machine: runs every configuration once per
# round, ROUNDS rounds, and prints each configuration's figures (sorted) and median.
#   scripts/interleave.sh ROUNDS "label|ENV=VALUE ...|vkwb arguments" ...
# e.g. scripts/interleave.sh 5 "sharded|VKWB_SHARD_OPTIM=1|bench train --model lenet5 --steps 200" \
#                              "full|VKWB_SHARD_OPTIM=0|bench train --model lenet5 --steps 200"
# The figure taken from each run is the first "<number> img/s" or "<number> updates/s" it prints.
set -euo pipefail
vkwb="${VKWB:-$(dirname "$0")/../build/apps/vkwb}"
rounds="$1"
shift
declare -A got
for _ in $(seq "$rounds"); do
  for cfg in "$@"; do
    IFS='|' read -r label envs args <<< "$cfg"
    # shellcheck disable=SC2086  # envs and args are word lists on purpose
    v=$(env $envs "$vkwb" $args 2>&1 | grep -oE "[0-9]+ (updates|img)/s" | head -1 | grep -oE "^[0-9]+" || true)
    got[$label]="${got[$label]:-} ${v:-failed}"
  done
done
for cfg in "$@"; do
  IFS='|' read -r label _ _ <<< "$cfg"
  sorted=$(tr ' ' '\n' <<< "${got[$label]}" | grep -v '^$' | sort -n | tr '\n' ' ' || true)
  median=$(tr ' ' '\n' <<< "${got[$label]}" | grep -E '^[0-9]+$' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}' || true)
  echo "$label: $sorted median ${median:-none}"
done
