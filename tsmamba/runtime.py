"""Process-wide settings that matter for speed on CPU.

glibc's malloc serves blocks above its mmap threshold (128 KiB, raised dynamically up to 32 MiB)
with fresh ``mmap`` calls and returns them to the kernel on ``free``. Training allocates and
frees temporaries larger than that every step, so each step faults its pages in again (zeroed by
the kernel): the time goes to system calls and page faults, and more so at long lookbacks.
:func:`keep_large_allocations` raises the mmap and trim thresholds so freed blocks stay in the
heap and are reused. Measured on the 2-core dev machine (experiments/efficiency.py: ETTh1, default
model, batch 32, 2 threads, nothing else running, 2026-12-07): 1.18 s per batch against 1.90 s
under glibc's thresholds at L=336 and 10.06 s against 33.45 s at L=2880, with peak RSS 17,251 MB
against 12,260 MB there (experiments/benchmarks/results/efficiency_malloc.txt; docs/scaling.md).
The CLI and the experiment scripts call it; library users may call it themselves (it is
process-wide and keeps the heap at its peak, so fit does not).

A kept heap holds the training's peak after the training ends: a Weather fit at L = 720 per
channel (batch 32) peaked at 14.9 GB (its result file's ``peak_rss_mb``; docs/scaling.md) and its
process stayed at 11.7 GB through the hour of forecasting after it, where two such runs no longer
fit in 24 GB. :func:`release_freed_memory`
gives the free pages back (glibc's ``malloc_trim``): that process went to 2.5 GB. Fit calls it
once training ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_large_allocations", "release_freed_memory"]

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
M_MMAP_THRESHOLD = -3
_DONE: tuple[int, int] | None = None  # the thresholds in effect


def _libc() -> ctypes.CDLL:
    """The C library (OSError where none loads; its functions raise AttributeError where absent)."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def keep_large_allocations(mmap_threshold: int = 1 << 30, trim_threshold: int = (1 << 31) - 1) -> bool:
    """Keep freed large blocks in the heap (glibc only). Returns whether the settings took effect.

    A no-op (False) off Linux, on other C libraries, or when ``TSMAMBA_MALLOC=default`` is set.
    Costs memory: the heap keeps its peak size instead of returning freed blocks to the kernel.
    """
    global _DONE
    if not sys.platform.startswith("linux") or os.environ.get("TSMAMBA_MALLOC") == "default":
        return False  # asked again once the opt-out is lifted, it applies them
    if _DONE == (mmap_threshold, trim_threshold):
        return True
    _DONE = None
    try:
        mallopt = _libc().mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_ok = bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold))
    if mmap_ok and mallopt(M_TRIM_THRESHOLD, trim_threshold):
        _DONE = (mmap_threshold, trim_threshold)  # other thresholds asked later are applied
        return True
    return False


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel (glibc's ``malloc_trim(0)``; it keeps the
    blocks in use and the thresholds). Returns whether it ran: False off Linux or on other C
    libraries. It costs a walk over the heap's free pages: 0.2 s to give back 2 GB of freed
    tensors on the 2-core dev machine, against minutes of training before it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = _libc().malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
