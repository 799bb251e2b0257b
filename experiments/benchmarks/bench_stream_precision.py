"""How far a float32 model's forecasts drift from the same model's in float64 over a long stream,
with the causal norm at a long span (no timing: the figures are rounding errors).

    .venv/bin/python experiments/benchmarks/bench_stream_precision.py [--steps 40000] [--norm-span 1000000]

The default estimator configuration (with ``norm_span``) is fitted on one batch of synthetic
ETT-like data (7 channels; the weights do not matter here) and copied into float64
(``network_.double()``). Both are warmed on the same ``--history`` rows, then fed the next
``--steps`` rows through ``update_array``, one step each. Printed, each as max |float32 - float64|
over the last forecast (H x C, in the data's units) divided by max |float64 forecast|:

* stream: the two streams' forecasts after the last step;
* full pass: ``predict(all rows, context="full")`` of the two models (the chunked forward pass).

``--no-stream`` prints the full pass only (cheap at a long ``--steps``).
"""

from __future__ import annotations

import argparse
import copy
import sys
import warnings

import numpy as np
import torch

from tsmamba.datasets import synthetic_ett
from tsmamba.errors import run_script
from tsmamba.estimator import TSMambaForecaster

warnings.filterwarnings("ignore")


def relative(a: np.ndarray, exact: np.ndarray) -> float:
    return float(np.abs(a - exact).max() / np.abs(exact).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40_000, help="rows streamed after the history")
    ap.add_argument("--norm-span", type=int, default=10**6)
    ap.add_argument("--history", type=int, default=200, help="rows the streams are warmed on")
    ap.add_argument("--no-stream", action="store_true", help="the full pass only")
    args = ap.parse_args()
    if min(args.steps, args.norm_span, args.history) < 1:
        ap.error("--steps, --norm-span and --history must be at least 1")
    print("$ " + " ".join(["python", *sys.argv]))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")

    n_rows = args.history + args.steps
    df = synthetic_ett(n_rows=max(n_rows, 2000), n_channels=7, seed=0).set_index("date")
    f32 = TSMambaForecaster(norm_span=args.norm_span, max_epochs=1, progress=False,
                            trainer_kwargs={"limit_train_batches": 1, "limit_val_batches": 1})
    f32.fit(df.iloc[:2000])
    f64 = copy.deepcopy(f32)
    f64.network_.double()
    rows = df.iloc[:n_rows]
    print(f"# default model, norm_span {args.norm_span}, {f32.history_['n_parameters']} parameters; "
          f"history {args.history} rows, then {args.steps} steps")

    if not args.no_stream:
        history = rows.iloc[: args.history]
        s32, s64 = f32.stream(history=history), f64.stream(history=history)
        values = rows.to_numpy()
        for t in range(args.history, n_rows):
            a32, a64 = s32.update_array(values[t]), s64.update_array(values[t])
        print(f"stream after {args.steps} steps: {relative(a32, a64):.1e} of the forecast's scale")
    full32 = f32.predict(rows, context="full").to_numpy()
    full64 = f64.predict(rows, context="full").to_numpy()
    print(f"full pass over {n_rows} rows: {relative(full32, full64):.1e} of the forecast's scale")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
