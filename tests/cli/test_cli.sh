#!/usr/bin/env bash
# Bad input through the real CLI: each case must exit non-zero with one line on stderr starting
# "vkwb: error:" and naming the problem, and must not touch files that were already there.
# Usage: test_cli.sh path/to/vkwb
set -uo pipefail
vkwb="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0

# expect_error PATTERN -- command...: non-zero exit and exactly one "vkwb: error:" line on stderr
# (a run may have printed its banner before it found the problem), matching PATTERN.
expect_error() {
  local pattern="$1"; shift; shift
  local out rc lines
  out="$("$@" 2>&1 >/dev/null)"; rc=$?
  lines="$(printf '%s\n' "$out" | grep -c '^vkwb: error:')"
  if [[ $rc -eq 0 ]]; then echo "FAIL (exit 0): $*"; fails=$((fails + 1)); return; fi
  if [[ $lines -ne 1 ]]; then echo "FAIL ($lines error lines): $*"; printf '%s\n' "$out"; fails=$((fails + 1)); return; fi
  out="$(grep '^vkwb: error:' <<<"$out")"
  if ! grep -q "$pattern" <<<"$out"; then
    echo "FAIL (message '$out' lacks '$pattern'): $*"; fails=$((fails + 1)); return
  fi
  echo "ok: $* -> $out"
}

# No Vulkan loader: a clear message saying what to install (and the CPU backend still works).
VKWB_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 expect_error "apt-get install libvulkan1" -- "$vkwb" selftest
VKWB_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 "$vkwb" --device cpu models >/dev/null \
  || { echo "FAIL: --device cpu without a Vulkan loader"; fails=$((fails + 1)); }
devices_out="$(VKWB_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 "$vkwb" devices)"
grep -q "cannot load the Vulkan loader" <<<"$devices_out" \
  || { echo "FAIL: vkwb devices without a loader says: $devices_out"; fails=$((fails + 1)); }

expect_error "unknown device 42; devices:" -- "$vkwb" --device 42 selftest
expect_error "unknown device 'no-such-gpu'" -- "$vkwb" --device no-such-gpu selftest
expect_error "not expected: --bogus" -- "$vkwb" train --bogus
expect_error "image-size: 30 not in" -- "$vkwb" bench train --image-size 30
expect_error "optimizer: foo not in" -- "$vkwb" bench train --optimizer foo
expect_error "floats must be a multiple of 4" -- "$vkwb" bench access --floats 6
# bench access checks every kernel's output itself; a small run must print all seven rows.
access_out="$("$vkwb" bench access --floats 1024 --reps 2 2>&1)"
[[ $(grep -c 'ns/float' <<<"$access_out") -eq 6 ]] && grep -q '64-float dispatch' <<<"$access_out" \
  || { echo "FAIL: bench access printed: $access_out"; fails=$((fails + 1)); }
expect_error "unknown model 'nope'" -- "$vkwb" --device cpu train --model nope --epochs 1
expect_error "cannot find the Fashion-MNIST" -- "$vkwb" --device cpu train --model mlp --epochs 1 --data-dir "$work/none"

# Corrupt and truncated data and checkpoints.
mkdir -p "$work/data"
head -c 4096 /dev/urandom > "$work/data/train-images-idx3-ubyte.gz"
head -c 4096 /dev/urandom > "$work/data/train-labels-idx1-ubyte.gz"
expect_error "train-images-idx3-ubyte.gz" -- "$vkwb" --device cpu train --model mlp --epochs 1 --data-dir "$work/data"
head -c 100 /dev/urandom > "$work/bad.ckpt"
expect_error "not a vkwb checkpoint" -- "$vkwb" --device cpu eval --checkpoint "$work/bad.ckpt"
expect_error "cannot" -- "$vkwb" --device cpu eval --checkpoint "$work/missing.ckpt"
expect_error "tta" -- "$vkwb" --device cpu eval --checkpoint "$work/bad.ckpt" --tta mirror
expect_error "unknown env" -- "$vkwb" --device cpu dqn --env nope --out "$work/run"

# A corrupt checkpoint in a DQN run: --resume refuses and leaves every file as it was.
"$vkwb" --device cpu dqn --env catch --frames 300 --learning-starts 100 --eval-every 0 --out "$work/catch" >/dev/null 2>&1 \
  || { echo "FAIL: short catch run"; fails=$((fails + 1)); }
ck="$(ls "$work/catch/checkpoints/"* | tail -1)"
head -c 200 "$ck" > "$ck.cut" && mv "$ck.cut" "$ck"
before="$(cd "$work/catch" && find . -type f -exec md5sum {} + | sort)"
expect_error "cannot resume from" -- "$vkwb" --device cpu dqn --out "$work/catch" --resume --frames 600
after="$(cd "$work/catch" && find . -type f -exec md5sum {} + | sort)"
[[ "$before" == "$after" ]] || { echo "FAIL: a refused --resume changed the run directory"; fails=$((fails + 1)); }

if [[ $fails -ne 0 ]]; then echo "$fails CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
