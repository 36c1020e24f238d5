#!/usr/bin/env bash
# Installs the Debian 12 packages gilbench needs, only those that are missing
# (so a machine that has them all does not even run apt-get update).
# Run as root. plot.py and the tests use Debian's /usr/bin/python3 (with the
# python3-* packages below), not whatever python3 comes first on PATH.
set -euo pipefail
packages=(cmake g++ make git libbenchmark-dev libbenchmark-tools nlohmann-json3-dev
          libgtest-dev libgmock-dev libboost-dev libboost-filesystem-dev
          python3-matplotlib python3-numpy python3-scipy python3-hypothesis valgrind
          libmimalloc-dev nodejs python3-yaml)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages and not root; run as root or: apt-get install ${missing[*]}" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
