#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite (CTest + Boost.Test) with the
# Vulkan validation layer on: any validation message fails the test that caused it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh" "$here/build"
export VKWB_VALIDATE=1
ctest --test-dir "$here/build" --output-on-failure -j "$(nproc)" --timeout 1200
