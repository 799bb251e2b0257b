"""Window forecasts per second against windows per forward pass, for the networks of the LTSF
configurations (random weights: speed does not depend on them).

For each network it times ``MambaForecaster.forecast_at`` over the same windows at several fixed
windows per pass and at the network's own choice (``batch_size=None``,
:meth:`tsmamba.model.MambaForecaster.windows_per_pass`), and checks that every batch gives the
forecasts of one window per pass. Run:

    .venv/bin/python experiments/benchmarks/bench_forecast_batch.py [--threads 1] [--only Weather]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from tsmamba.errors import run_script
from tsmamba.model import ForecasterConfig, MambaForecaster, count_parameters
from tsmamba.runtime import keep_large_allocations

# name: (channels, lookback, horizon, channel mode, cycle length), with the LTSF configurations'
# shared settings (d_model 64, 2 layers, the last 96 states read through 8 features, input skip)
NETWORKS = {
    "ETTh1 per-channel L=96 H=96": (7, 96, 96, "independent", 24),
    "ETTh1 per-channel L=96 H=720": (7, 96, 720, "independent", 24),
    "ETTh1 per-channel L=336 H=96": (7, 336, 96, "independent", 24),
    "ETTm1 per-channel L=720 H=96": (7, 720, 96, "independent", 96),
    "Weather per-channel L=96 H=96": (21, 96, 96, "independent", 144),
    "Weather mixed L=96 H=96": (21, 96, 96, "mix", 144),
    "Weather mixed L=96 H=720": (21, 96, 720, "mix", 144),
}


def network(channels: int, lookback: int, horizon: int, mode: str, cycle: int) -> MambaForecaster:
    config = ForecasterConfig(
        n_channels=channels, horizon=horizon, context_length=lookback, d_model=64, channel_mode=mode,
        norm="none", head_window=96, head_dim=8, cycle_length=cycle, input_skip=True,
    )  # fmt: skip
    return MambaForecaster(config).eval()


def timed(
    net: MambaForecaster, x: torch.Tensor, marks: torch.Tensor, origins: torch.Tensor,
    batch_size: int | None, repeat: int,
) -> tuple[torch.Tensor, float]:
    """The forecasts (n, H, C) after ``origins`` (n,) of x (T, C) and the best of ``repeat``
    timings in windows per second."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = torch.cat([piece for _, piece in net.forecast_at(x, origins, marks, batch_size=batch_size)])
        best = min(best, time.perf_counter() - start)
    return out, len(origins) / best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--windows", type=int, default=384, help="windows forecast per timing")
    parser.add_argument("--passes", default="1,2,4,8,16,32,64,128,256", help="windows per pass tried")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many timings")
    parser.add_argument("--only", default="", help="networks whose name contains this")
    args = parser.parse_args()
    try:
        passes = [int(p) for p in args.passes.split(",")]
    except ValueError:
        parser.error(f"--passes takes whole numbers separated by commas, got {args.passes!r}")
    if min(args.threads, args.windows, args.repeat, *passes) < 1:
        parser.error("--threads, --windows, --repeat and --passes must be at least 1")
    torch.set_num_threads(args.threads)
    keep_large_allocations()  # as the CLI and the experiments run
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.machine()}; {args.windows} "
          f"windows per timing, best of {args.repeat}\n")
    print("| network | parameters | activations per window | own choice: windows per pass | windows/s | "
          "at 32 per pass | fastest tried | own / 32 | max diff vs 1 per pass |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (C, L, H, mode, cycle) in NETWORKS.items():
        if args.only not in name:
            continue
        torch.manual_seed(0)
        net = network(C, L, H, mode, cycle)
        n = args.windows
        x = torch.randn(n + L - 1, C)  # (T, C)
        marks = (torch.arange(n + L - 1) % cycle).float()[:, None]  # (T, 1) the cycle phase
        origins = torch.arange(L - 1, n + L - 1)  # (n,) every window of the series

        one_each, _ = timed(net, x, marks, origins, 1, args.repeat)
        rates, diff = {}, 0.0
        for b in [*passes, None]:
            out, rates[b] = timed(net, x, marks, origins, b, args.repeat)
            diff = max(diff, float((out - one_each).abs().max()))
        own = net.windows_per_pass(L)
        fastest = max(passes, key=rates.get)
        series = C if mode == "independent" else 1
        at32, ratio = "-", "-"  # 32 windows per pass: the fixed number before the network chose
        if 32 in rates:
            at32, ratio = f"{rates[32]:.0f}", f"{rates[None] / rates[32]:.2f}"
        print(f"| {name} | {count_parameters(net):,} | {series * L * 64:,} | {own} | {rates[None]:.0f} | "
              f"{at32} | {fastest}: {rates[fastest]:.0f} | {ratio} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
