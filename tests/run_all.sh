#!/usr/bin/env bash
# Installs what is missing, then builds and passes every test three times:
# a Release build (unit, stress and command-line tests), a ThreadSanitizer
# build and an AddressSanitizer+UBSan build (the same unit and stress tests).
# Build trees: build/, build-tsan/, build-asan/ (CMakePresets.json).
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh
jobs=$(nproc)
for preset in release tsan asan; do
  echo "==> $preset" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
echo "all tests passed (release, tsan, asan)" >&2
