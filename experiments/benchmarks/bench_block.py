"""What one Mamba-2 block costs in training, and its depthwise conv's share, on CPU.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/bench_block.py [--series 224] [--lengths 96 336]

For each length: a ``Mamba2`` block (``--d-model`` 64, d_state 16, headdim 16, the ETTh1 track-1
network's) on ``--series`` series (32 windows x 7 channels, channel-independent), float32, with
``--threads`` torch threads. Printed, each the median of ``--repeats`` calls after two untimed ones,
run alternately so that both see the same machine:

* block: ``Mamba2.forward`` and its backward (a fixed cotangent);
* conv + SiLU as the block runs it: channels-last ``conv2d`` on the time-major inputs, forward and
  backward;
* conv + SiLU as a time-innermost ``conv1d`` (the minimal Mamba-2 listings' layout, and this
  block's until 2026-12-07): transposes in, a copy out, forward and backward.

Freed large blocks stay in the heap (``tsmamba.runtime.keep_large_allocations``, as the ``tsmamba``
command and the experiments train), so the timings are the kernels' and not glibc's page faults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from tsmamba.errors import run_script
from tsmamba.mamba2 import Mamba2, Mamba2Config
from tsmamba.runtime import keep_large_allocations


def conv_channels_last(xBC: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(b, l, c) time-major -> (b, l, c): the causal depthwise conv and SiLU as ``Mamba2`` runs them."""
    b, _, c = xBC.shape
    w = weight.shape[-1]
    conv_in = torch.cat([xBC.new_zeros(b, w - 1, c), xBC], dim=1)  # (b, w - 1 + l, c)
    y = F.conv2d(conv_in.transpose(1, 2)[:, :, None], weight[:, :, None], bias, groups=c)
    return F.silu(y[:, :, 0].transpose(1, 2))


def conv_time_innermost(xBC: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The same conv and SiLU on the (b, c, l) transpose, made time-major again by a copy."""
    b, _, c = xBC.shape
    w = weight.shape[-1]
    xt = xBC.transpose(1, 2)  # (b, c, l)
    conv_in = torch.cat([xt.new_zeros(b, c, w - 1), xt], dim=-1)  # (b, c, w - 1 + l)
    return F.silu(F.conv1d(conv_in, weight, bias, groups=c)).transpose(1, 2).contiguous()


def fwd_bwd(fn, inputs: torch.Tensor, cotangent: torch.Tensor) -> None:
    x = inputs.detach().requires_grad_()
    fn(x).backward(cotangent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=224, help="series in a batch (windows x channels)")
    ap.add_argument("--lengths", type=int, nargs="+", default=[96, 336], help="sequence lengths")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20, help="timed calls per figure (median)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args()
    if min(args.series, *args.lengths, args.d_model, args.repeats, args.threads) < 1:
        ap.error("--series, --lengths, --d-model, --repeats and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    keep_large_allocations()
    print("$ " + " ".join(["python", *sys.argv]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32; median ms of "
          f"{args.repeats} (forward + backward)")
    print(f"{'length':>6}  {'block':>9}  {'conv+SiLU channels-last':>23}  {'conv+SiLU time-innermost':>24}")
    torch.manual_seed(0)
    block = Mamba2(Mamba2Config(d_model=args.d_model, d_state=16, headdim=16))
    c = block.config.conv_dim
    weight, bias = block.conv1d.weight.detach(), block.conv1d.bias.detach()
    for length in args.lengths:
        u = torch.randn(args.series, length, args.d_model)
        xBC = torch.randn(args.series, length, c)
        dy, dconv = torch.randn_like(u), torch.randn_like(xBC)
        runs = {"block": (lambda x: block(x)[0], u, dy),
                "last": (lambda x: conv_channels_last(x, weight, bias), xBC, dconv),
                "inner": (lambda x: conv_time_innermost(x, weight, bias), xBC, dconv)}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(2):
            for run in runs.values():
                fwd_bwd(*run)
        for _ in range(args.repeats):
            for name, run in runs.items():
                t0 = time.perf_counter()
                fwd_bwd(*run)
                times[name].append((time.perf_counter() - t0) * 1e3)
        block_ms, last_ms, inner_ms = (statistics.median(times[k]) for k in runs)
        print(f"{length:>6}  {block_ms:>9.2f}  {last_ms:>23.2f}  {inner_ms:>24.2f}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
