r"""Latency of one streaming update vs recomputing the forecast, after long histories.

    .venv/bin/python experiments/benchmarks/bench_streaming.py [--histories 100 10000 100000] [--repeats 200]

For batch 1 and batch 256 streams, after histories of 10^2, 10^4 and 10^5 observations, it reports
the median latency of

* ``update_array`` (the lean path: numbers in, array out) and ``update`` (Series in, DataFrame out),
* for a batch, ``update`` of one of its series (the others keep their state),
* the exact alternative: ``predict(history, context="full")`` re-run over the whole history,
* the window alternative: ``predict(last context_length rows)``.

The model has the default estimator configuration, or the one given by ``--params`` (JSON
estimator parameters) on ``--channels`` channels, e.g. the Weather shape with the all-channel skip:

    .venv/bin/python experiments/benchmarks/bench_streaming.py --channels 21 --histories 100 10000 \
        --params '{"input_skip": true, "cross_channel_skip": true, "head_dim": 8, "norm": "none"}'

Its weights come from a one-batch fit on synthetic data (latency does not depend on the weights).
A 256-stream state is the 1-stream state after the same history, replicated (the work per update
is the same as for 256 different states).
glibc's mmap threshold is pinned (MALLOC_MMAP_THRESHOLD_) so that step temporaries do not flip
between heap and mmap allocations, which doubles single-step timings on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # must be set before the process starts
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(64 * 1024 * 1024)
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np
import torch

from tsmamba.datasets import synthetic_ett
from tsmamba.errors import run_script
from tsmamba.estimator import TSMambaForecaster

warnings.filterwarnings("ignore")


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--histories", type=int, nargs="+", default=[100, 10_000, 100_000])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels", type=int, default=7)
    ap.add_argument("--params", type=json.loads, default={}, help="estimator parameters (JSON object)")
    args = ap.parse_args()
    if min(args.repeats, args.threads, *args.batches) < 1:
        ap.error("--repeats, --threads and --batches must be at least 1")
    torch.set_num_threads(args.threads)

    n_rows = max(args.histories) + args.repeats * 2 + 500
    df = synthetic_ett(n_rows=n_rows, n_channels=args.channels, seed=0).set_index("date")
    est = TSMambaForecaster(
        **args.params,
        max_epochs=1, progress=False, trainer_kwargs={"limit_train_batches": 1, "limit_val_batches": 1},
    )
    est.fit(df.iloc[:2000])
    L = est.context_length
    if min(args.histories) < L:
        ap.error(f"--histories must be at least the context length ({L}), the rows a window forecast reads")
    print(
        f"# model: d_model {est.d_model}, n_layers {est.n_layers}, d_state {est.d_state}, "
        f"{args.channels} channels, {args.params or 'defaults'}, {est.history_['n_parameters']} parameters; "
        f"torch {torch.__version__}, {args.threads} threads"
    )
    print(
        f"# median of {args.repeats} updates; MALLOC_MMAP_THRESHOLD_={os.environ['MALLOC_MMAP_THRESHOLD_']}"
    )
    header = (
        f"{'history':>8} {'batch':>5} {'update_array ms':>15} {'update ms':>10} {'update 1 of B ms':>16} "
        f"{'full predict ms':>15} {'window predict ms':>17} {'full/upd':>9} {'window/upd':>10} "
        f"{'state KiB/stream':>16}"
    )
    print(header)
    values = df.to_numpy()
    for n_hist in args.histories:
        stream = est.stream(history=df.iloc[: min(n_hist, 10_000)])
        for start in range(10_000, n_hist, 10_000):  # warm long histories in bounded chunks
            stream.update_many(df.iloc[start : min(start + 10_000, n_hist)])
        assert stream.steps == n_hist
        full_ms = median_ms(
            lambda n=n_hist: est.predict(df.iloc[:n], context="full"),
            max(3, min(args.repeats, 20_000 // max(n_hist // 100, 1)) // 10),
        )
        window_ms = median_ms(lambda n=n_hist: est.predict(df.iloc[n - L : n]), max(5, args.repeats // 4))
        for batch in args.batches:
            if batch == 1:
                s = stream
            else:
                s = est.stream(history=None, ids=list(range(batch)))
                s._state = stream._state.select(
                    torch.zeros(batch, dtype=torch.long), args.channels, est.channel_mode
                )
                s._last_values = np.repeat(stream._last_values, batch, 0)
            pos = {"i": n_hist}

            def lean(s=s, batch=batch, pos=pos):
                row = values[pos["i"] % len(values)]
                s.update_array(row if batch == 1 else np.repeat(row[None], batch, 0))
                pos["i"] += 1

            def rich(s=s, batch=batch, pos=pos):
                row = df.iloc[pos["i"] % len(df)]
                s.update(row if batch == 1 else {k: row for k in s.ids})
                pos["i"] += 1

            upd = median_ms(lean, args.repeats)
            s._last_time = [None] * len(s.ids)  # the rich path checks timestamps; keep rows acceptable
            upd_rich = median_ms(rich, max(5, args.repeats // (4 if batch > 1 else 1)))

            def one_of(s=s, pos=pos):
                s.update({s.ids[pos["i"] % len(s.ids)]: values[pos["i"] % len(values)]})
                pos["i"] += 1

            upd_one = f"{median_ms(one_of, args.repeats):>16.3f}" if batch > 1 else f"{'-':>16}"
            state_kib = s.state_bytes() / len(s.ids) / 1024
            if batch == 1:
                fw = f"{full_ms:>15.2f} {window_ms:>17.2f} {full_ms / upd:>8.0f}x {window_ms / upd:>9.1f}x"
            else:  # recomputing 256 long histories at once does not fit in memory here
                fw = f"{'-':>15} {'-':>17} {'-':>9} {'-':>10}"
            print(f"{n_hist:>8} {batch:>5} {upd:>15.3f} {upd_rich:>10.3f} {upd_one} {fw} {state_kib:>16.1f}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
