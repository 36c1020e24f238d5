"""pytwin: the CPython twin of gilbench's workloads and runners.

gilbench (C++) emulates CPython's GIL over a reference-counted object model.
This package runs the same workloads, with the same parameters and the same
checksums, in plain Python on the real interpreter, so that the emulated
figures can be checked against the thing they emulate:

  tally.py         Tally and Shard, bit-for-bit twins of src/runtime/tally.hpp
                   and src/workloads/workload.hpp
  countdown.py ... one module per workload, mirroring src/workloads/<name>.hpp
  workloads.py     the list of workload modules, in gilbench's order
  params.py        the workloads' parameters, read from gilbench (no copy here)
  runners.py       cpython_serial, cpython_threads (persistent thread pool) and
                   cpython_process (persistent multiprocessing worker pool)
  report.py        Google Benchmark 1.7.1 JSON, as gilbench writes it (schema,
                   run names and file writing from bench/python/gilbench_results)

The entry point is bench/python/twin.py. Standard library only; CPython >= 3.8.
"""
