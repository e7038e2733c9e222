#!/usr/bin/env bash
# The real CLI. Bad input: each case must exit non-zero with one line on stderr starting
# "vkwb: error:" and naming the problem, and must not touch files that were already there.
# Then the training paths: config files, run directories, resume, eval.
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
expect_error "data: foo not in" -- "$vkwb" bench train --data foo
expect_error "$work/no-such-dir" -- "$vkwb" bench train --data fashion-mnist --data-dir "$work/no-such-dir" --steps 1
# bench train says what it trained on: Fashion-MNIST when asked (and installed), random on request.
bench_real="$("$vkwb" bench train --model lenet5 --steps 2 --data fashion-mnist --json 2>&1)"
bench_rand="$("$vkwb" bench train --model lenet5 --steps 2 --data random --json 2>&1)"
grep -q '"data": "fashion-mnist"' <<<"$bench_real" && grep -q '"inference_batch": 1000' <<<"$bench_real" \
  && grep -q '"data": "random"' <<<"$bench_rand" \
  || { echo "FAIL: bench train --data printed: $bench_real / $bench_rand"; fails=$((fails + 1)); }
# bench dqn on the CPU reference backend (no command stream: it used to crash).
dqn_cpu="$("$vkwb" --device cpu bench dqn --updates 3 --reps 1 --json 2>&1)"
grep -q '"updates_per_sec"' <<<"$dqn_cpu" || { echo "FAIL: --device cpu bench dqn printed: $dqn_cpu"; fails=$((fails + 1)); }
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

# Training through the CLI: a TOML config file with a flag overriding it, the run directory, a
# resume that takes the run's own settings, a refused change of hyper-parameter, eval --json.
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fails=$((fails + 1)); fi; }
cat > "$work/mlp.toml" <<'TOML'
# a vkwb train config (keys are the long flags; '-' or '_')
model = "mlp"
epochs = 3          # overridden on the command line below
batch = 64
optimizer = "adam"
lr = 2e-3
limit-train = 512
limit_test = 200
val_size = 0
seed = 4
TOML
"$vkwb" train --config "$work/mlp.toml" --epochs 1 --quiet --out "$work/mlp" --json > "$work/mlp1.json" 2>/dev/null
check '[[ $? -eq 0 ]]' "train --config mlp.toml --epochs 1"
check 'grep -q "\"model\": \"mlp\"" "$work/mlp/config.json" && grep -q "\"epochs\": 1" "$work/mlp/config.json" && grep -q "\"seed\": 4" "$work/mlp/config.json"' \
  "config.json holds the file's values with the flag's override"
check '[[ $(ls "$work/mlp/checkpoints/"*.ckpt | wc -l) -eq 1 && $(wc -l < "$work/mlp/metrics.csv") -eq 2 && -s "$work/mlp/metrics.jsonl" ]]' \
  "one checkpoint, metrics.csv and metrics.jsonl after one epoch"
check 'python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert 0.1 < j[\"test_accuracy\"] <= 1 and len(j[\"epochs\"]) == 1" "$work/mlp1.json"' \
  "train --json prints the test accuracy and one epoch"
# --replicas auto (the default) on lavapipe: one data-parallel replica per core this process may
# use, at most 8 (only checked where lavapipe is the only Vulkan device, so the default).
if [[ $("$vkwb" devices 2>/dev/null | grep -c '^[0-9]*: ') -eq 1 ]] && "$vkwb" devices 2>/dev/null | grep -q '^0: llvmpipe'; then
  cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
  want_replicas=$(( cores > 8 ? 8 : cores ))
  check 'grep -q "\"replicas\": $want_replicas" "$work/mlp/config.json"' "--replicas auto on a CPU driver: one replica per core ($want_replicas)"
fi
# A run trained on replicas evaluates anywhere, also on the CPU reference backend.
"$vkwb" --device cpu eval --checkpoint "$(ls "$work/mlp/checkpoints/"*.ckpt | tail -1)" > "$work/eval_cpu.txt" 2>&1
check '[[ $? -eq 0 ]] && grep -q "test accuracy" "$work/eval_cpu.txt"' "eval --device cpu of a run trained on replicas"
# Config files may say replicas = "auto"; --replicas on the command line beats the file.
printf 'model = "mlp"\nepochs = 1\nlimit_train = 256\nlimit_test = 100\nval_size = 0\nreplicas = "auto"\n' > "$work/auto.toml"
"$vkwb" train --config "$work/auto.toml" --quiet --out "$work/auto" > /dev/null 2>&1
check '[[ $? -eq 0 ]] && ! grep -q "\"replicas\": 0" "$work/auto/config.json"' "replicas = \"auto\" in a config file"
printf 'model = "mlp"\nepochs = 1\nlimit_train = 256\nlimit_test = 100\nval_size = 0\nreplicas = 3\n' > "$work/three.toml"
"$vkwb" train --config "$work/three.toml" --replicas 1 --quiet --out "$work/one" > /dev/null 2>&1
check '[[ $? -eq 0 ]] && grep -q "\"replicas\": 1" "$work/one/config.json"' "--replicas on the command line beats the config file"
expect_error "replicas: expected a positive number or auto, got '0'" -- "$vkwb" train --model mlp --epochs 1 --replicas 0
expect_error "replicas: expected a positive number or auto, got 'two'" -- "$vkwb" train --model mlp --epochs 1 --replicas two
expect_error "must be in \[1, batch\]" -- "$vkwb" train --model mlp --epochs 1 --batch 2 --replicas 3 --limit-train 64
before="$(cd "$work/mlp" && find . -type f -exec md5sum {} + | sort)"
expect_error "lr 0.5.*differs from the run's" -- "$vkwb" train --out "$work/mlp" --resume --lr 0.5 --epochs 2
after="$(cd "$work/mlp" && find . -type f -exec md5sum {} + | sort)"
check '[[ "$before" == "$after" ]]' "a refused --resume leaves the run directory as it was"
expect_error "cannot resume: run directory .*nothing-here does not exist" -- "$vkwb" train --out "$work/nothing-here" --resume
"$vkwb" train --out "$work/mlp" --resume --epochs 2 --quiet > /dev/null 2>&1
check '[[ $? -eq 0 && $(wc -l < "$work/mlp/metrics.csv") -eq 3 && $(ls "$work/mlp/checkpoints/"*.ckpt | wc -l) -eq 2 ]]' \
  "--resume --epochs 2 continues with the run's own settings (model, seed, data) for one more epoch"
check 'grep -q "\"epochs\": 2" "$work/mlp/config.json" && grep -q "\"lr\": 0.00200" "$work/mlp/config.json"' "config.json records the new epoch count, the old lr"
ck="$(ls "$work/mlp/checkpoints/"*.ckpt | tail -1)"
"$vkwb" eval --checkpoint "$ck" --json > "$work/eval.json" 2>/dev/null
check 'python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j[\"model\"] == \"mlp\" and j[\"tta\"] == \"none\" and len(j[\"confusion\"]) == 10 and 0.1 < j[\"test_accuracy\"] <= 1" "$work/eval.json"' \
  "eval --json: model, accuracy, 10x10 confusion matrix"
"$vkwb" eval --checkpoint "$ck" --tta flip > "$work/eval_tta.txt" 2>/dev/null
check 'grep -q "test accuracy .*(flip test-time augmentation)" "$work/eval_tta.txt"' "eval --tta flip"
printf 'model = "mlp"\nepochs = [1, 2]\n' > "$work/bad.toml"
expect_error "bad.toml:2: 'epochs' must be a string" -- "$vkwb" train --config "$work/bad.toml"
printf 'model = "mlp\n' > "$work/broken.toml"
expect_error "broken.toml:1" -- "$vkwb" train --config "$work/broken.toml"
printf '{"model": "mlp", "epochz": 1}' > "$work/typo.json"
expect_error "unknown option 'epochz'" -- "$vkwb" train --config "$work/typo.json"

# vkwb play: random baseline as JSON, greedy from the short Catch run's directory, a GIF; tabular
# Q-learning; bad dqn / play flags.
"$vkwb" --device cpu play --env catch --policy random --episodes 20 --seed 2 --json > "$work/play.json" 2>/dev/null
check 'python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j[\"env\"] == \"catch\" and j[\"episodes\"] == 20 and len(j[\"returns\"]) == 20 and -1 <= j[\"return\"][\"mean\"] <= 1" "$work/play.json"' \
  "play --policy random --json: 20 returns and their summary"
"$vkwb" --device cpu dqn --env catch --frames 300 --learning-starts 100 --eval-every 0 --out "$work/catch3" >/dev/null 2>&1
"$vkwb" --device cpu play --policy greedy --checkpoint "$work/catch3" --episodes 5 --gif "$work/play.gif" > "$work/play.txt" 2>&1
check '[[ $? -eq 0 ]] && grep -q "return" "$work/play.txt" && [[ "$(head -c 6 "$work/play.gif")" == "GIF89a" ]]' "play --policy greedy from a run directory, with a GIF"
expect_error "greedy.*checkpoint" -- "$vkwb" --device cpu play --env catch --policy greedy --episodes 2
expect_error "policy" -- "$vkwb" --device cpu play --env catch --policy smart --episodes 2
expect_error "unknown env" -- "$vkwb" --device cpu play --env nope --policy random
expect_error "not expected:.*--framez" -- "$vkwb" --device cpu dqn --env catch --framez 10 --out "$work/x"
expect_error "gamma" -- "$vkwb" --device cpu dqn --env catch --gamma 1.5 --out "$work/x2"
expect_error "target_net must be auto, host or device" -- "$vkwb" --device cpu dqn --env catch --target-net gpu --out "$work/x4"
check '[[ ! -e "$work/x2" ]]' "a refused dqn flag creates no run directory"
expect_error "cannot be changed on --resume" -- "$vkwb" --device cpu dqn --out "$work/catch3" --resume --lr 0.1
"$vkwb" --device cpu dqn --agent tabular --env gridworld:cliff --episodes 300 > "$work/tab.txt" 2>&1
check '[[ $? -eq 0 ]] && grep -q "value-iteration optimum" "$work/tab.txt"' "dqn --agent tabular prints the greedy policy and the value-iteration optimum"

# vkwb baseline: kNN and the linear classifiers on a Fashion-MNIST subset.
"$vkwb" baseline --method knn --k 3 --limit-train 1000 --limit-test 200 --json > "$work/knn.json" 2>/dev/null
check 'python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j[\"k\"] == 3 and j[\"train\"] == 1000 and j[\"test\"] == 200 and j[\"test_accuracy\"] > 0.6" "$work/knn.json"' \
  "baseline --method knn: accuracy above 0.6 on 1000 / 200 images"
"$vkwb" baseline --method svm --epochs 2 --limit-train 2000 --limit-test 200 > "$work/svm.txt" 2>/dev/null
check 'grep -q "svm on fashion-mnist (2000 train / 200 test images): test accuracy 0\.[5-9]" "$work/svm.txt"' "baseline --method svm"
expect_error "method: tree not in" -- "$vkwb" baseline --method tree

expect_error "sticky-action-prob" -- "$vkwb" --device cpu play --env minatar-breakout --policy random --sticky-action-prob 2
expect_error "slip_prob must be in" -- "$vkwb" --device cpu dqn --env gridworld:cliff --slip-prob 2 --out "$work/x3"
"$vkwb" --device cpu play --env gridworld:cliff --policy random --slip-prob 0.5 --episodes 3 > /dev/null 2>&1
check '[[ $? -eq 0 ]]' "play --slip-prob on a grid world"

if [[ $fails -ne 0 ]]; then echo "$fails CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
