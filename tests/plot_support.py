"""What the Python tests share: running plot.py as a program, with the
interpreter the tests run under (the one CMake chose: GILBENCH_PYTHON)."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")


def run_plot(*args, timeout=600, env=None, cwd=None):
    """Runs plot.py ARGS; returns (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, PLOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, env=env, cwd=cwd)
    return p.returncode, p.stdout, p.stderr
