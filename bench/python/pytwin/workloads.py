"""The twin's workloads, in the order gilbench lists them (src/workloads/all.hpp).

Each module offers NAME, KIND ("cpu" or "io"),
make_state(params, first, count, local) (the state one address space needs
for its `local` workers, which run shards first .. first+local-1 of `count`:
0, N, N for N threads, i, N, 1 for process worker i; built outside the timed
region), run(state, index, count) -> Tally and finish(state) -> Tally.

The parameters are gilbench's own, never copied here: twin.py reads them from
`gilbench --params --format=json` (every workload at every scale: default,
quick, tiny) or from a gilbench result file's gilbench_params (params.py).
"""

from . import binary_trees, convoy, countdown, list_sum, pipe_io, shared_dict, shared_read, sleep_io

ALL = [countdown, binary_trees, list_sum, shared_read, shared_dict, sleep_io, pipe_io, convoy]
BY_NAME = {w.NAME: w for w in ALL}
