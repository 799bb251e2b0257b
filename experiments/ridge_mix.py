r"""Would mixing the closed-form cyc ridge map into a network ensemble's forecast help?

    .venv/bin/python experiments/ridge_mix.py \
        --config experiments/configs/etth1_track1_cycskip_nonorm_ens3.json --horizon 336 --seed 0

Trains the networks of one ``experiments/ltsf.py`` run (same plan, seeds and parameters, so the
members reproduce that run's scores), fits the per-channel cyc ridge map of
``experiments/linear_cycle.py`` at the same lookback, and prints the validation and test MSE of
``(1 - w) * networks' mean + w * ridge`` for a few weights w (w = 0: the run's own forecast;
w = 1: the ridge map alone). A weight would be chosen on validation; nothing is written.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from linear_cycle import forecasts
from ltsf import load_run, member_plan, split_forecasts

from tsmamba.backtest import backtest_ltsf
from tsmamba.data import cycle_phase, prepare_ltsf
from tsmamba.errors import run_script

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--horizon", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    config, params = load_run(args.config, [])
    params.update(progress=False)
    plan = member_plan(config, params, args.seed)
    if len({lookback for lookback, _, _ in plan}) > 1:
        raise SystemExit("one lookback only: the ridge map is fitted at the networks' lookback")
    if not params.get("cycle_length"):
        raise SystemExit("the config has no cycle_length: the cyc ridge map needs the networks' cycle")
    L, H, data = plan[0][0], args.horizon, config["data"]
    prepared = prepare_ltsf(data, L, H)
    values = prepared.values.astype(np.float64)
    phase = cycle_phase(prepared.index, prepared.freq, int(params["cycle_length"]))
    fit_index = prepared.fit_index  # the calendar the networks are trained on
    ridge = forecasts(values, phase, prepared.borders, L, H, "cyc")  # split -> ((n, H, C), (n, H, C))

    mean = {"val": 0.0, "test": 0.0}
    for lookback, member_params, member_seed in plan:
        result = backtest_ltsf({**member_params, "random_state": member_seed}, data, lookback, H,
                               max_forecast_rows=0)
        for split in mean:
            if split == "test":  # the backtest's own forecasts
                yhat, y = result.arrays["yhat"], result.arrays["y"]
            else:
                yhat, y, _ = split_forecasts(result, values, fit_index, lookback, H, split, "window")
            if not np.array_equal(y, ridge[split][1]):
                raise SystemExit(f"the network and the ridge map forecast different {split} targets")
            print(f"member seed {member_seed}: {split} MSE {np.mean((yhat - y) ** 2):.4f}", flush=True)
            mean[split] = mean[split] + np.asarray(yhat, np.float64) / len(plan)
    table = {split: {w: float(np.mean(((1 - w) * mean[split] + w * ridge[split][0] - ridge[split][1]) ** 2))
                     for w in WEIGHTS} for split in mean}
    print(json.dumps({"config": config["name"], "horizon": H, "seed": args.seed, **table}))


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
