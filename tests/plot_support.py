"""What the Python tests share: running plot.py as a program, with the
interpreter the tests run under (the one CMake chose: GILBENCH_PYTHON)."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLOT = os.path.join(REPO, "plot.py")


def run_plot(*args, timeout=600, env=None, cwd=None):
    """Runs plot.py ARGS; returns (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, PLOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, env=env, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


class TempDir(unittest.TestCase):
    """A test case with a fresh temporary directory, self.tmp, per test."""

    prefix = "gilbench-test-"

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix=self.prefix)
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()


def main():
    """unittest.main(), after taking --gilbench=BIN off the command line into
    $GILBENCH_BIN (the binary the tests that need one run)."""
    for arg in list(sys.argv[1:]):
        if arg.startswith("--gilbench="):
            os.environ["GILBENCH_BIN"] = os.path.abspath(arg.split("=", 1)[1])
            sys.argv.remove(arg)
    unittest.main()
