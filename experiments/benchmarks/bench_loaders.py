"""Time and memory of train-window loaders: tsmamba's views vs a loader that copies each window.

For each data set and context length, one epoch of the LTSF train split (stride 1, shuffled,
batch 64, horizon 96) is iterated by three loaders, each in a fresh subprocess so that peak
memory is its own:

  naive-copy        numpy slice + torch.tensor per window, default collate (the common pattern)
  windows-per-item  tsmamba WindowDataset (views) in a plain DataLoader (default collate)
  windows-batched   tsmamba TimeSeriesDataModule (batch sampler, one gather per batch)
  naive-stacked     (opt-in, --loaders ...) every window copied up front into two arrays,
                    another common pattern; shows what materialising windows costs

"build" is the time to construct the dataset and loader from the already scaled array; "peak"
is the largest resident memory above what the process held after loading the data (Linux
VmHWM, reset through /proc/self/clear_refs; a sampling thread where that is not allowed).

    TSMAMBA_DATA=../shared/datasets .venv/bin/python experiments/benchmarks/bench_loaders.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tsmamba.errors import run_script

LOADERS = ("naive-copy", "windows-per-item", "windows-batched")
EXTRA_LOADERS = ("naive-stacked",)  # opt-in: needs GiBs at L=720


# ---------------------------------------------------------------------------------------------
# memory


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class PeakMemory:
    """Peak resident memory (KiB) from ``start()`` on."""

    def __init__(self) -> None:
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # resets VmHWM to the current RSS
            self._thread = None
        except OSError:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._sampled = max(self._sampled, _rss_kib())
            time.sleep(0.002)

    def peak_kib(self) -> int:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            return self._sampled
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc/self/status")


# ---------------------------------------------------------------------------------------------
# one case (runs in its own process)


def _naive_loader(values, start: int, end: int, context: int, horizon: int, batch: int, seed: int):
    import torch
    from torch.utils.data import DataLoader, Dataset

    class CopyingWindows(Dataset):
        def __init__(self) -> None:
            self.rows = values[start:end]

        def __len__(self) -> int:
            return len(self.rows) - context - horizon + 1

        def __getitem__(self, i: int):
            x = self.rows[i : i + context]
            y = self.rows[i + context : i + context + horizon]
            return torch.tensor(x), torch.tensor(y)

    gen = torch.Generator().manual_seed(seed)
    return DataLoader(CopyingWindows(), batch_size=batch, shuffle=True, generator=gen)


def _stacked_loader(values, start: int, end: int, context: int, horizon: int, batch: int, seed: int):
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    rows = values[start:end]
    n = len(rows) - context - horizon + 1
    x = np.stack([rows[i : i + context] for i in range(n)])
    y = np.stack([rows[i + context : i + context + horizon] for i in range(n)])
    gen = torch.Generator().manual_seed(seed)
    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return DataLoader(dataset, batch_size=batch, shuffle=True, generator=gen)


def run_case(name: str, context: int, loader_kind: str, horizon: int, batch: int) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from tsmamba.data import prepare_ltsf
    from tsmamba.windows import TimeSeriesDataModule, WindowDataset

    t0 = time.perf_counter()
    data = prepare_ltsf(name, context, horizon)
    load_s = time.perf_counter() - t0
    values = data.values
    start, end = data.borders["train"]
    base_kib = _rss_kib()
    peak = PeakMemory()
    peak.start()

    t0 = time.perf_counter()
    if loader_kind == "naive-copy":
        loader = _naive_loader(values, start, end, context, horizon, batch, seed=0)
    elif loader_kind == "naive-stacked":
        loader = _stacked_loader(values, start, end, context, horizon, batch, seed=0)
    elif loader_kind == "windows-per-item":
        dataset = WindowDataset(torch.from_numpy(values), context, horizon, start=start, end=end)
        gen = torch.Generator().manual_seed(0)
        loader = DataLoader(dataset, batch_size=batch, shuffle=True, generator=gen)
    else:
        module = TimeSeriesDataModule(
            values, {"train": (start, end)}, context, horizon, batch_size=batch, seed=0
        )
        loader = module.train_dataloader()
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_windows = n_batches = 0
    checksum = 0.0
    for context_batch, target_batch in loader:
        n_windows += context_batch.shape[0]
        n_batches += 1
        checksum += float(target_batch[0, 0, 0])  # touch the data
    epoch_s = time.perf_counter() - t0
    return {
        "data": name,
        "L": context,
        "loader": loader_kind,
        "windows": n_windows,
        "batches": n_batches,
        "load_s": load_s,
        "build_ms": build_s * 1e3,
        "epoch_s": epoch_s,
        "peak_mib": (peak.peak_kib() - base_kib) / 1024,
        "threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------------------
# driver


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["ETTm1", "Weather"])
    parser.add_argument("--contexts", nargs="+", type=int, default=[96, 720])
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--loaders", nargs="+", default=list(LOADERS), choices=LOADERS + EXTRA_LOADERS)
    parser.add_argument("--case", nargs=3, metavar=("DATA", "L", "LOADER"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:
        name, context, kind = args.case
        result = run_case(name, int(context), kind, args.horizon, args.batch_size)
        print(json.dumps(result))
        return 0

    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env.setdefault("TSMAMBA_DATA", str(repo.parent / "shared" / "datasets"))
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    rows = []
    for name in args.datasets:
        for context in args.contexts:
            for kind in args.loaders:
                cmd = [
                    sys.executable, __file__, "--case", name, str(context), kind,
                    "--horizon", str(args.horizon), "--batch-size", str(args.batch_size),
                ]  # fmt: skip
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return out.returncode
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))

    print(
        f"train split, horizon {args.horizon}, batch {args.batch_size}, stride 1, shuffled; "
        f"torch threads {rows[0]['threads']}; peak = max RSS above the loaded data"
    )
    header = (
        f"| {'data':<7} | {'L':>4} | {'loader':<16} | {'windows':>7} | {'build ms':>9} | "
        f"{'epoch s':>7} | {'windows/s':>9} | {'vs naive':>8} | {'peak MiB':>8} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    naive = {(r["data"], r["L"]): r["epoch_s"] for r in rows if r["loader"] == "naive-copy"}
    for r in rows:
        speedup = naive.get((r["data"], r["L"]))
        ratio = f"{speedup / r['epoch_s']:.1f}x" if speedup else "-"
        print(
            f"| {r['data']:<7} | {r['L']:>4} | {r['loader']:<16} | {r['windows']:>7} | "
            f"{r['build_ms']:>9.2f} | {r['epoch_s']:>7.2f} | {r['windows'] / r['epoch_s']:>9.0f} | "
            f"{ratio:>8} | {r['peak_mib']:>8.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
