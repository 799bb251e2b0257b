"""Benchmark the SSD scan on CPU: tsmamba's ssd_chunked vs the step-by-step recurrence and vs the
textbook chunked algorithm written plainly with the 4-operand einsums of the Mamba-2 paper.

    .venv/bin/python experiments/benchmarks/bench_ssd.py [--lengths 96 720 2880] [--repeats 10]

Prints median milliseconds (forward, forward+backward), the ratio to the textbook version,
achieved GFLOP/s (matmul FLOPs of the chunked algorithm) next to a large fp32 matmul measured in
the same run, and peak memory (RSS growth of a fresh subprocess) for forward+backward.
By default freed large blocks stay in the heap (``tsmamba.runtime.keep_large_allocations``, as the
``tsmamba`` command and the experiments train), so the timings are the scan's and not the page
faults of glibc's mmap threshold; ``--malloc default`` measures with glibc's own settings.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time

import torch
from einops import rearrange, repeat

from tsmamba.runtime import keep_large_allocations
from tsmamba.ssd import ssd_chunked, ssd_chunked_ref, ssd_recurrent


def textbook_segsum(x: torch.Tensor) -> torch.Tensor:
    """Segment sums built the plain way: repeat to T x T, mask, cumsum."""
    T = x.size(-1)
    x = repeat(x, "... d -> ... d e", e=T)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)
    x = x.masked_fill(~mask, 0)
    x_segsum = torch.cumsum(x, dim=-2)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=0)
    return x_segsum.masked_fill(~mask, -torch.inf)


def ssd_textbook(x, A, B, C, chunk_size, initial_states=None):
    """The four chunked steps with 4-operand einsums; seqlen is zero-padded to whole chunks."""
    seqlen = x.shape[1]
    pad = (-seqlen) % chunk_size
    if pad:
        F = torch.nn.functional
        x, A = F.pad(x, (0, 0, 0, 0, 0, pad)), F.pad(A, (0, 0, 0, pad))
        B, C = F.pad(B, (0, 0, 0, 0, 0, pad)), F.pad(C, (0, 0, 0, 0, 0, pad))
    x, A, B, C = (rearrange(t, "b (c l) ... -> b c l ...", l=chunk_size) for t in (x, A, B, C))
    A = rearrange(A, "b c l h -> b h c l")
    A_cumsum = torch.cumsum(A, dim=-1)
    L = torch.exp(textbook_segsum(A))
    Y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, x)
    decay_states = torch.exp(A_cumsum[:, :, :, -1:] - A_cumsum)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay_states, x)
    if initial_states is None:
        initial_states = torch.zeros_like(states[:, :1])
    states = torch.cat([initial_states, states], dim=1)
    decay_chunk = torch.exp(textbook_segsum(torch.nn.functional.pad(A_cumsum[:, :, :, -1], (1, 0))))
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]
    state_decay_out = torch.exp(A_cumsum)
    Y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, state_decay_out)
    y = rearrange(Y_diag + Y_off, "b c l h p -> b (c l) h p")
    return y[:, :seqlen], final_state


def make_inputs(batch, seqlen, nheads, headdim, d_state, requires_grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, seqlen, nheads, headdim, generator=g)
    A = -torch.rand(batch, seqlen, nheads, generator=g) * 0.5
    B = torch.randn(batch, seqlen, 1, d_state, generator=g) / math.sqrt(d_state)
    C = torch.randn(batch, seqlen, 1, d_state, generator=g) / math.sqrt(d_state)
    return [t.requires_grad_(requires_grad) for t in (x, A, B, C)]


def chunked_flops(batch, seqlen, nheads, headdim, d_state, chunk):
    """Matmul FLOPs of the chunked algorithm (forward): the four steps' contractions."""
    c = math.ceil(seqlen / chunk)
    T = math.ceil(seqlen / c)
    diag = 2 * batch * c * T * T * d_state + 2 * batch * c * nheads * T * T * headdim
    states = 2 * batch * c * nheads * headdim * T * d_state
    inter = 2 * batch * nheads * (c + 1) ** 2 * headdim * d_state
    out = 2 * batch * c * nheads * T * d_state * headdim
    return diag + states + inter + out


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def run_case(impl, inputs, chunk, backward):
    x, A, B, C = inputs

    def go():
        if impl == "recurrent":
            y, s = ssd_recurrent(x, A, B, C)
        elif impl == "chunked_ref":
            y, s = ssd_chunked_ref(x, A, B, C, chunk)
        elif impl == "textbook":
            y, s = ssd_textbook(x, A, B, C, chunk)
        else:
            y, s = ssd_chunked(x, A, B, C, chunk)
        if backward:
            torch.autograd.backward([y, s], [torch.ones_like(y), torch.ones_like(s)])
            for t in inputs:
                t.grad = None

    return go


def peak_memory_mb(impl, seqlen, args):
    """Peak RSS growth (MB) of one forward+backward, in a fresh subprocess.

    Reads VmHWM of the child's own address space: ru_maxrss would start at the parent's peak,
    since Linux carries the maximum RSS across fork and exec.
    """
    code = f"""
import torch, sys
sys.path.insert(0, {sys.path[0]!r})
from bench_ssd import make_inputs, run_case
from tsmamba.runtime import keep_large_allocations
if {args.malloc == "keep"}:
    keep_large_allocations()
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
torch.set_num_threads({args.threads})
inp = make_inputs({args.batch}, {seqlen}, {args.nheads}, {args.headdim}, {args.d_state}, True)
base = hwm()
run_case({impl!r}, inp, {args.chunk}, True)()
print(hwm() - base)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[96, 720, 2880])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--nheads", type=int, default=8)
    ap.add_argument("--headdim", type=int, default=32)
    ap.add_argument("--d-state", dest="d_state", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recurrent-max-len", type=int, default=720,
                    help="skip the (slow) step-by-step reference above this length")
    ap.add_argument("--malloc", choices=("keep", "default"), default="keep",
                    help="keep: freed large blocks stay in the heap, as in training (default); "
                         "default: glibc's thresholds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = [args.batch, args.nheads, args.headdim, args.d_state, args.chunk, args.repeats, args.threads,
             *args.lengths]
    if min(sizes) < 1:
        ap.error("--lengths, --batch, --nheads, --headdim, --d-state, --chunk, --repeats and --threads "
                 "must be at least 1")
    torch.set_num_threads(args.threads)
    kept = args.malloc == "keep" and keep_large_allocations()

    a = torch.randn(2048, 2048)
    mm_ms = median_ms(lambda: a @ a, args.repeats)
    mm_gflops = 2 * 2048**3 / (mm_ms * 1e-3) / 1e9
    cpu = platform.processor() or platform.machine()
    print(f"# torch {torch.__version__}, {args.threads} threads, {cpu}")
    print(f"# batch {args.batch}, nheads {args.nheads}, headdim {args.headdim}, d_state {args.d_state}, "
          f"chunk {args.chunk}, median of {args.repeats}")
    print(f"# malloc: {'large blocks kept in the heap' if kept else 'glibc defaults'}")
    print(f"# fp32 matmul 2048^3: {mm_ms:.1f} ms = {mm_gflops:.0f} GFLOP/s")
    rows = []
    for L in args.lengths:
        flops = chunked_flops(args.batch, L, args.nheads, args.headdim, args.d_state, args.chunk)
        for backward in (False, True):
            res = {}
            for impl in ("chunked", "textbook", "recurrent"):
                if impl == "recurrent" and L > args.recurrent_max_len:
                    continue
                inp = make_inputs(args.batch, L, args.nheads, args.headdim, args.d_state, backward)
                reps = args.repeats if impl != "recurrent" else max(3, args.repeats // 3)
                res[impl] = median_ms(run_case(impl, inp, args.chunk, backward), reps)
            mode = "fwd+bwd" if backward else "fwd"
            fl = flops * (3 if backward else 1)
            row = {
                "seqlen": L, "mode": mode,
                "chunked_ms": res["chunked"], "textbook_ms": res.get("textbook"),
                "recurrent_ms": res.get("recurrent"),
                "speedup_vs_textbook": res["textbook"] / res["chunked"] if "textbook" in res else None,
                "chunked_gflops": fl / (res["chunked"] * 1e-3) / 1e9,
                "matmul_gflops": mm_gflops,
            }
            if backward and L >= 720:
                row["peak_mb_chunked"] = peak_memory_mb("chunked", L, args)
                row["peak_mb_textbook"] = peak_memory_mb("textbook", L, args)
            rows.append(row)

    if args.json:
        print(json.dumps(rows, indent=1))
        return
    hdr = f"{'seqlen':>6} {'mode':>8} {'chunked ms':>11} {'textbook ms':>12} {'ratio':>6} " \
          f"{'recurrent ms':>13} {'GFLOP/s':>8} {'peak MB (ours/textbook)':>24}"
    print(hdr)
    for r in rows:
        tb = f"{r['textbook_ms']:.1f}" if r["textbook_ms"] else "-"
        ratio = f"{r['speedup_vs_textbook']:.2f}x" if r["speedup_vs_textbook"] else "-"
        rec = f"{r['recurrent_ms']:.1f}" if r["recurrent_ms"] else "-"
        mem = f"{r['peak_mb_chunked']:.0f} / {r['peak_mb_textbook']:.0f}" if "peak_mb_chunked" in r else ""
        print(f"{r['seqlen']:>6} {r['mode']:>8} {r['chunked_ms']:>11.1f} {tb:>12} {ratio:>6} "
              f"{rec:>13} {r['chunked_gflops']:>8.1f} {mem:>24}")


if __name__ == "__main__":
    main()
