"""Process settings: glibc malloc thresholds."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tsmamba import runtime

# In a fresh process: malloc and free a 64 MiB block, then read how much of it the heap kept
# (mallinfo2().arena, the non-mmapped heap; glibc >= 2.33).
PROBE = """
import ctypes, sys
from tsmamba.runtime import keep_large_allocations
took = keep_large_allocations() if sys.argv[1] == "keep" else False
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(64 << 20))
print(took, libc.mallinfo2().arena >> 20, keep_large_allocations() == took)
if len(sys.argv) > 2:  # then give the free pages back
    from tsmamba.runtime import release_freed_memory
    print(release_freed_memory(), libc.mallinfo2().arena >> 20)
"""


def probe(mode: str) -> tuple[str, int, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    took, arena_mib, same = out.stdout.split()
    return took, int(arena_mib), same


def test_opt_out_leaves_malloc_alone(monkeypatch):
    monkeypatch.setattr(runtime, "_DONE", None)
    monkeypatch.setenv("TSMAMBA_MALLOC", "default")
    assert runtime.keep_large_allocations() is False
    assert runtime._DONE is None  # the opt-out was not kept as the answer once it is lifted


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_other_thresholds_asked_later_are_applied(monkeypatch):
    """The first call's answer was kept whatever a later call asked: True, its thresholds not set."""
    calls = []

    def mallopt(param, value):
        calls.append((param, value))
        return 1

    libc = type("FakeLibc", (), {})()
    libc.mallopt = mallopt  # a function: its argtypes and restype can be set, as ctypes' can
    monkeypatch.setattr(runtime, "_DONE", None)
    monkeypatch.delenv("TSMAMBA_MALLOC", raising=False)
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda name: libc)
    assert runtime.keep_large_allocations(1 << 20, 1 << 21) is True
    assert runtime.keep_large_allocations(1 << 20, 1 << 21) is True and len(calls) == 2  # set once
    assert runtime.keep_large_allocations(1 << 30, 1 << 31) is True
    assert calls[2:] == [(runtime.M_MMAP_THRESHOLD, 1 << 30), (runtime.M_TRIM_THRESHOLD, 1 << 31)]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_freed_large_blocks_stay_in_the_heap():
    took, arena_default, _ = probe("default")
    assert took == "False" and arena_default < 64  # default: a 64 MiB block is mmapped, then unmapped
    took, arena_kept, same = probe("keep")
    assert took == "True" and same == "True"  # took effect, and a second call is a no-op
    assert arena_kept >= 64  # the freed block stays in the heap for reuse


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_freed_memory_gives_the_kept_heap_back():
    """A fit's training peak had stayed in the kept heap through the forecasting after it."""
    out = subprocess.run([sys.executable, "-c", PROBE, "keep", "release"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:3] == ["True", out[1], "True"] and int(out[1]) >= 64  # kept, as above
    assert out[3] == "True" and int(out[4]) < 64  # then given back


def test_fit_gives_back_what_training_freed(monkeypatch):
    from tsmamba import estimator as estimator_module
    from tsmamba.datasets import synthetic_ett

    calls = []
    monkeypatch.setattr(estimator_module, "release_freed_memory", lambda: calls.append(1) or True)
    series = synthetic_ett(n_rows=200, n_channels=2, seed=0).set_index("date")
    estimator_module.TSMambaForecaster(context_length=16, horizon=4, d_model=8, n_layers=1, d_state=4,
                                       headdim=4, max_epochs=1, progress=False).fit(series)
    assert calls == [1]
