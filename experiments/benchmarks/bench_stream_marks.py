"""What one row of calendar marks costs a stream's ``update_array``, against the whole update.

    OMP_NUM_THREADS=2 .venv/bin/python experiments/benchmarks/bench_stream_marks.py [--repeats 2000]

The default estimator configuration with ``time_features=True`` and ``cycle_length=24`` is fitted
on one batch of synthetic ETT-like data (the weights do not matter here) and streamed from its
first 2000 rows, with ``--threads`` torch threads (2). Printed, each the median of ``--repeats``
calls after one untimed call:

* one row of marks: ``Stream._next_calendar`` for the next step on the series' grid (the private
  call ``update_array`` makes for a calendar model);
* ``update_array`` of one series (row 2000, fed again at every call).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import torch

from tsmamba.datasets import synthetic_ett
from tsmamba.errors import run_script
from tsmamba.estimator import TSMambaForecaster

warnings.filterwarnings("ignore")


def med(fn, n: int) -> float:
    """The median of ``n`` timed calls of ``fn`` in ms, after one untimed call."""
    fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2000, help="timed calls per figure (median)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    args = ap.parse_args()
    if min(args.repeats, args.threads) < 1:
        ap.error("--repeats and --threads must be at least 1")
    n = args.repeats
    torch.set_num_threads(args.threads)
    print("$ " + " ".join(["python", *sys.argv]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; default model + time_features, "
          "cycle_length 24")

    df = synthetic_ett(n_rows=3000, seed=0).set_index("date")
    f = TSMambaForecaster(time_features=True, cycle_length=24, max_epochs=1, progress=False,
                          trainer_kwargs={"limit_train_batches": 1, "limit_val_batches": 1})
    f.fit(df.iloc[:2000])
    s = f.stream(history=df.iloc[:2000])

    nxt = [s._last_time[0] + s.offset]
    print(f"one row of marks (Stream._next_calendar): {med(lambda: s._next_calendar(nxt), n):.3f} ms, "
          f"median of {n}")
    row = df.iloc[2000].to_numpy()
    print(f"update_array of one series: {med(lambda: s.update_array(row), n):.3f} ms, median of {n}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
