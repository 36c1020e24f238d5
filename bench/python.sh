#!/usr/bin/env bash
# Prints the Python 3 interpreter the scripts use: $PYTHON if set, else the
# first of python3 in /usr/bin, then on PATH, that imports what plot.py needs
# (on Debian 12 `python3` on PATH can be a pyenv shim that does not see
# Debian's packages). Exit 2, with an install hint, when none does.
set -u
for py in ${PYTHON:-} /usr/bin/python3 python3; do
  [ -n "$py" ] || continue
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import matplotlib, numpy, scipy' >/dev/null 2>&1; then
    command -v "$py"
    exit 0
  fi
done
echo "bench/python.sh: no Python 3 that imports matplotlib, numpy and scipy" \
     "(Debian/Ubuntu: apt-get install python3-matplotlib python3-numpy python3-scipy;" \
     "Fedora: dnf install python3-matplotlib python3-numpy python3-scipy; or set PYTHON=...)" >&2
exit 2
