"""Efficiency on ETTh1 (H=96): parameters, seconds per epoch and peak RSS against the lookback.

    .venv/bin/python experiments/efficiency.py [--lookbacks 96 336 720 2880] [--batches 8] [--config C]

Each lookback runs in a fresh subprocess: it trains the default model (or the architecture of an
``experiments/configs`` file, ``--config``) for ``--batches`` batches of ``batch_size`` windows
(32 unless the config sets it; every channel a sequence) and reports the seconds per batch
(from the end of the first training batch, a warm-up, to the end of the last: neither the fit's
set-up nor the warm-up is in it; one batch alone is timed whole), the epoch time extrapolated
to all training windows (8640 - L - 96 + 1 at stride 1), and the peak RSS of that process
(VmHWM). Writes experiments/results/efficiency.json
(efficiency_<config name>.json), with the machine, its CPU, the commit and the date: the seconds
are this machine's on that day (the development VM has run on more than one CPU model).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from ltsf import (  # experiments/ltsf.py: configs, result files, what ran where
    cpu_description,
    git_commit,
    machine_description,
    output_folder,
    read_config,
    write_json,
)

from tsmamba.errors import run_script

CHILD = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import logging
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
import pandas as pd
from lightning.pytorch.callbacks import Callback
from tsmamba.data import prepare_ltsf
from tsmamba.errors import run_script
from tsmamba.runtime import keep_large_allocations
keep_large_allocations()
from tsmamba.estimator import TSMambaForecaster


class Clock(Callback):  # batch ends: the fit's set-up (data, Lightning) is not timed
    def __init__(self):
        self.ends = []

    def on_train_batch_start(self, *args):
        if not self.ends:
            self.ends.append(time.perf_counter())  # the first batch's start

    def on_train_batch_end(self, *args):
        self.ends.append(time.perf_counter())


def main():
    L, n_batches, model = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    d = prepare_ltsf("ETTh1", L, 96)
    s, e = d.borders["train"]
    frame = pd.DataFrame(d.values[s:e], index=d.index[s:e], columns=d.columns)
    clock = Clock()
    f = TSMambaForecaster(context_length=L, horizon=96, **model, max_epochs=1, progress=False,
                          val_fraction=0.0, patience=None,
                          trainer_kwargs={"limit_train_batches": n_batches, "callbacks": [clock]})
    f.fit(frame, scale=False)
    # from the first batch's end: the first (its allocations, the first graph) is a warm-up,
    # which an epoch of hundreds of batches pays once; one batch alone is timed whole
    ends = clock.ends[1:] if len(clock.ends) > 2 else clock.ends
    seconds, timed = ends[-1] - ends[0], len(ends) - 1
    hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 1024
    windows = e - s - L - 96 + 1
    print(json.dumps({"lookback": L, "n_parameters": f.history_["n_parameters"], "batches": n_batches,
                      "timed_batches": timed, "seconds_per_batch": seconds / timed,
                      "epoch_seconds_extrapolated": seconds / timed * -(-windows // f.batch_size),
                      "train_windows": windows, "batch_size": f.batch_size, "peak_rss_mb": hwm}))


raise SystemExit(run_script(main))
"""
# training-loop settings of a config that do not change the cost of a batch
TRAINING_ONLY = {"max_epochs", "patience", "train_stride", "val_stride", "linear_init", "trainer_kwargs",
                 "learning_rate"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lookbacks", type=int, nargs="+", default=[96, 336, 720, 2880])
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--config", help="an experiments/configs JSON: time its architecture, not the default")
    ap.add_argument("--out", help="default: experiments/results/efficiency[_<config name>].json")
    args = ap.parse_args()
    if args.batches < 1 or min(args.lookbacks) < 1:
        ap.error("--batches and --lookbacks must be at least 1")
    name, model = "default", {}
    if args.config:
        config = read_config(args.config)
        name = config["name"]
        model = {k: v for k, v in config["params"].items() if k not in TRAINING_ONLY}
    default_out = Path(__file__).resolve().parent / "results" / (
        "efficiency.json" if not args.config else f"efficiency_{name}.json"
    )
    out_path = Path(args.out) if args.out else default_out
    if out_path.is_dir():  # write_json would fail only after the measurements
        ap.error(f"--out {out_path} is a folder; give the result file's path, "
                 f"e.g. {out_path / default_out.name}")
    output_folder(str(out_path.parent))  # before the measurements, not after them
    rows = []
    print(f"{'L':>5} {'params':>9} {'s/batch':>8} {'s/epoch (extrap.)':>18} {'peak RSS MB':>12}")
    for L in args.lookbacks:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(L), str(args.batches), json.dumps(model)],
            capture_output=True,
            text=True,
        )
        if out.returncode == 2:  # a TSMambaError, in one line (the data not found)
            line = out.stderr.strip().splitlines()[-1].removeprefix("-c: ")
            print(f"{Path(sys.argv[0]).name}: lookback {L}: {line}", file=sys.stderr)
            raise SystemExit(2)
        if out.returncode:  # its traceback's last lines say why
            tail = "\n".join(out.stderr.strip().splitlines()[-15:])
            raise SystemExit(f"lookback {L}: the measuring process failed (exit {out.returncode}):\n{tail}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{L:>5} {row['n_parameters']:>9} {row['seconds_per_batch']:>8.2f} "
            f"{row['epoch_seconds_extrapolated']:>18.0f} {row['peak_rss_mb']:>12.0f}",
            flush=True,
        )
    record = {
        "data": "ETTh1",
        "model": name,
        "params": model,
        "horizon": 96,
        "batch_size": rows[0]["batch_size"],
        "rows": rows,
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": machine_description(),
        "cpu": cpu_description(),
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json(out_path, record)


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
