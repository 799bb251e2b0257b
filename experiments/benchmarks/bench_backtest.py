"""Forecast throughput of a backtest on ETTh1's test split: 2785 origins, horizon 96.

Three ways to make the same forecasts with one small model:

  loop     one ``predict`` call per origin on the last ``context_length`` rows (what a
           hand-written backtest loop does; timed on the first ``--loop-origins`` origins)
  window   ``forecast_origins(..., context="window")``: many windows per forward pass
  full     ``forecast_origins(..., context="full")``: one recurrent pass over rows 0..last origin,
           reading the forecast after every origin (a different context: the whole history)

The model is fitted on one training batch only, so it is effectively untrained: speed does not
depend on the weights. Run:

    .venv/bin/python experiments/benchmarks/bench_backtest.py [--d-model 32 --n-layers 2]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import torch

from tsmamba.data import ltsf_borders
from tsmamba.datasets import load_dataset
from tsmamba.errors import run_script
from tsmamba.estimator import TSMambaForecaster


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--channel-mode", default="independent", choices=("independent", "mix"))
    parser.add_argument("--context", type=int, default=96)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="windows per forward pass (default: the network's own choice)")
    parser.add_argument("--loop-origins", type=int, default=200, help="origins timed in the loop")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per method")
    args = parser.parse_args()
    sizes = (args.repeat, args.loop_origins, args.context, args.horizon, args.batch_size, args.threads)
    if any(size is not None and size < 1 for size in sizes):
        parser.error("--repeat, --loop-origins, --batch-size, --context, --horizon and --threads must be "
                     "at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    frame = load_dataset("ETTh1")
    L, H = args.context, args.horizon
    test_start, test_end = ltsf_borders(len(frame), L, "ETTh")["test"]
    origins = np.arange(test_start + L - 1, test_end - H)  # every test window: 2785 at L=H=96
    seen = frame.iloc[: origins[-1] + 1]

    est = TSMambaForecaster(
        context_length=L, horizon=H, d_model=args.d_model, n_layers=args.n_layers,
        channel_mode=args.channel_mode, max_epochs=1, progress=False,
        trainer_kwargs={"limit_train_batches": 1, "limit_val_batches": 1, "enable_model_summary": False},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(frame.iloc[: test_start + L])

    rows = []

    def best(fn):  # the fastest of --repeat runs: the machine may be shared
        times, out = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return out, min(times)

    n_loop = min(args.loop_origins, len(origins))
    loop, seconds = best(
        lambda: np.stack([est.predict(frame.iloc[o - L + 1 : o + 1]).to_numpy() for o in origins[:n_loop]])
    )
    rows.append(("loop: predict per origin", n_loop, seconds))
    window, seconds = best(
        lambda: est.forecast_origins(seen, origins, context="window", batch_size=args.batch_size)
    )
    per_pass = args.batch_size or est.network_.windows_per_pass(L)
    rows.append((f"window: batched ({per_pass}/pass)", len(origins), seconds))
    full, seconds = best(lambda: est.forecast_origins(seen, origins, context="full"))
    rows.append(("full: one recurrent pass", len(origins), seconds))

    check = [est.predict(frame.iloc[: o + 1], context="full").to_numpy() for o in origins[[0, -1]]]
    diff_window = float(np.abs(window[:n_loop] - loop).max())
    diff_full = float(max(np.abs(full[i] - c).max() for i, c in zip((0, -1), check, strict=True)))

    print(
        f"ETTh1 test split: {len(origins)} origins, L={L}, H={H}, 7 channels; model d_model="
        f"{args.d_model}, n_layers={args.n_layers}, {args.channel_mode} channels, "
        f"{est.history_['n_parameters']} parameters (untrained)"
    )
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}; best of {args.repeat} runs")
    loop_rate = rows[0][1] / rows[0][2]
    print("\n| method | origins timed | seconds | windows/s | vs loop |\n|---|---:|---:|---:|---:|")
    for name, n, seconds in rows:
        rate = n / seconds
        print(f"| {name} | {n} | {seconds:.2f} | {rate:,.0f} | {rate / loop_rate:.1f}x |")
    scale = float(np.abs(loop).max())  # float32 kernels may round differently by batch shape
    print(
        f"\nmax |window - loop| = {diff_window:.2e} ({diff_window / scale:.1e} of the largest forecast, "
        f"{scale:.3g}); max |full - predict(full)| at the first and last origin = {diff_full:.2e}"
    )


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
