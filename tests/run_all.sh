#!/usr/bin/env bash
# Installs what is missing, then builds and passes every test:
#   release  Release, -Werror (with -Wshadow -Wconversion on GCC): unit,
#            stress, command-line, chaos and Python tests
#   tsan     ThreadSanitizer: the unit and stress tests
#   asan     AddressSanitizer + UBSan: the same
#   gb195    Release against Google Benchmark 1.9.5 built from source (the
#            API of 1.8 and later): the unit tests and the command line.
#            The source is ../shared/vendor/benchmark-1.9.5.tar.gz beside
#            the checkout, or $GILBENCH_BENCHMARK_TARBALL; skipped, saying
#            so, where neither exists.
# Build trees: build/, build-tsan/, build-asan/ (CMakePresets.json), build-gb195/.
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
tarball=${GILBENCH_BENCHMARK_TARBALL:-../shared/vendor/benchmark-1.9.5.tar.gz}
if [ -f "$tarball" ]; then
  echo "==> gb195 (Google Benchmark from $tarball)" >&2
  src=build-gb195/benchmark-src
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  cmake -S . -B build-gb195 -DCMAKE_BUILD_TYPE=Release -DGILBENCH_WERROR=ON \
        -DGILBENCH_BENCHMARK_SOURCE="$PWD/$src" >/dev/null
  cmake --build build-gb195 -j "$jobs"
  ctest --test-dir build-gb195 -j "$jobs" --output-on-failure -E '^(chaos|plot|fuzz_plot|twin|fidelity|strict_json)$'
  echo "all tests passed (release, tsan, asan, gb195)" >&2
else
  echo "==> gb195: SKIPPED: no Google Benchmark 1.9.5 source at $tarball (set GILBENCH_BENCHMARK_TARBALL)" >&2
  echo "all tests passed (release, tsan, asan)" >&2
fi
